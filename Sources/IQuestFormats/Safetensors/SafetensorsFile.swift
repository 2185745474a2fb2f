import Foundation

/// Why a safetensors file or checkpoint directory cannot be used; the message names the file.
public struct SafetensorsError: Error, CustomStringConvertible, Equatable {
    public let message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

/// Element types of safetensors tensors this engine knows the size of.
public enum SafetensorsDType: String, Sendable, CaseIterable {
    case f64 = "F64", f32 = "F32", f16 = "F16", bf16 = "BF16"
    case i64 = "I64", i32 = "I32", i16 = "I16", i8 = "I8", u8 = "U8", bool = "BOOL"

    public var byteSize: Int {
        switch self {
        case .f64, .i64: return 8
        case .f32, .i32: return 4
        case .f16, .bf16, .i16: return 2
        case .i8, .u8, .bool: return 1
        }
    }
}

public struct SafetensorsTensorInfo: Sendable, Equatable {
    public let name: String
    public let dtype: SafetensorsDType
    /// Outermost dimension first (row-major), as PyTorch writes it.
    public let shape: [Int]
    /// Byte range inside the data section.
    public let begin: Int
    public let end: Int

    public var elementCount: Int { shape.reduce(1, *) }
}

/// A memory-mapped `.safetensors` file: 8-byte little-endian header length, a JSON header
/// mapping names to {dtype, shape, data_offsets}, then the data. The header is validated in full
/// (offsets inside the data, sizes matching shapes, no overlaps); data is served zero-copy.
public final class SafetensorsFile: @unchecked Sendable {
    public let path: String
    public let tensors: [String: SafetensorsTensorInfo]
    public let metadata: [String: String]
    private let mapping: MappedFile
    private let dataStart: Int

    public init(path: String) throws(SafetensorsError) {
        let mapping: MappedFile
        do { mapping = try MappedFile(path: path) } catch { throw SafetensorsError(error.description) }
        func fail(_ s: String) -> SafetensorsError { SafetensorsError("\(path): \(s)") }
        guard mapping.size >= 8 else { throw fail("file is too short to be safetensors (\(mapping.size) bytes)") }
        let headerLength = mapping.base.loadUnaligned(as: UInt64.self)
        guard headerLength >= 2, headerLength <= UInt64(mapping.size - 8) else {
            throw fail("header length \(headerLength) does not fit in the file (\(mapping.size) bytes); truncated or not safetensors")
        }
        let headerBytes = Data(bytes: mapping.base + 8, count: Int(headerLength))
        let parsed: Any
        do { parsed = try JSONSerialization.jsonObject(with: headerBytes) } catch {
            throw fail("header is not valid JSON")
        }
        guard let header = parsed as? [String: Any] else { throw fail("header is not a JSON object") }
        let dataStart = 8 + Int(headerLength)
        let dataSize = mapping.size - dataStart
        var tensors: [String: SafetensorsTensorInfo] = [:]
        var metadata: [String: String] = [:]
        for (name, value) in header {
            if name == "__metadata__" {
                if let m = value as? [String: Any] {
                    for (k, v) in m { if let s = v as? String { metadata[k] = s } }
                }
                continue
            }
            guard let entry = value as? [String: Any],
                  let dtypeName = entry["dtype"] as? String,
                  let shapeValues = entry["shape"] as? [Any],
                  let offsets = entry["data_offsets"] as? [Any], offsets.count == 2 else {
                throw fail("tensor '\(name)' has a malformed header entry (needs dtype, shape, data_offsets)")
            }
            guard let dtype = SafetensorsDType(rawValue: dtypeName) else {
                throw fail("tensor '\(name)' has unknown dtype '\(dtypeName)'")
            }
            var shape: [Int] = []
            for v in shapeValues {
                guard let n = (v as? NSNumber)?.intValue, n >= 0 else { throw fail("tensor '\(name)' has an invalid shape \(shapeValues)") }
                shape.append(n)
            }
            guard let begin = (offsets[0] as? NSNumber)?.intValue, let end = (offsets[1] as? NSNumber)?.intValue,
                  begin >= 0, end >= begin else {
                throw fail("tensor '\(name)' has invalid data_offsets \(offsets)")
            }
            guard end <= dataSize else {
                throw fail("tensor '\(name)' data [\(begin), \(end)) runs past the end of the file (data section is \(dataSize) bytes); truncated")
            }
            let (count, overflow) = shape.reduce((1, false)) { acc, d in
                let r = acc.0.multipliedReportingOverflow(by: d)
                return (r.partialValue, acc.1 || r.overflow)
            }
            guard !overflow, count.multipliedReportingOverflow(by: dtype.byteSize).partialValue == end - begin else {
                throw fail("tensor '\(name)' shape \(shape) × \(dtypeName) does not match its \(end - begin) data bytes")
            }
            tensors[name] = SafetensorsTensorInfo(name: name, dtype: dtype, shape: shape, begin: begin, end: end)
        }
        let ranges = tensors.values.filter { $0.end > $0.begin }.sorted { $0.begin < $1.begin }
        for (a, b) in zip(ranges, ranges.dropFirst()) where b.begin < a.end {
            throw fail("tensors '\(a.name)' and '\(b.name)' overlap in the data section")
        }
        self.path = path
        self.tensors = tensors
        self.metadata = metadata
        self.mapping = mapping
        self.dataStart = dataStart
    }

    /// The bytes of one tensor, zero-copy from the mapping.
    public func data(for info: SafetensorsTensorInfo) -> UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(start: mapping.base + dataStart + info.begin, count: info.end - info.begin)
    }
}
