#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Builds a GGUF file. Declare metadata and tensors, then either
/// - stream: `beginTensorData(path:)`, `write(tensorData:)` once per tensor in declaration order,
///   `finish()`; or
/// - in memory: declare tensors with their bytes and call `write(to:)`.
/// Output goes to "<path>.part" and is renamed to `path` by `finish()`, so readers never see a
/// partial file. Alignment is `general.alignment` when set (a power-of-two uint32), else 32.
public final class GGUFWriter {
    public let version: UInt32
    public private(set) var metadataKeys: [String] = []
    public private(set) var metadata: [String: GGUFValue] = [:]

    private struct Declared {
        let name: String
        let shape: [Int]
        let type: GGMLType
        let byteCount: Int
        var data: [UInt8]?
    }
    private var declared: [Declared] = []
    private var tensorNames: Set<String> = []

    private struct Output {
        let fd: Int32
        let path: String
        let partPath: String
        var nextTensor = 0
    }
    private var output: Output?
    private var finished = false

    public init(version: UInt32 = 3) throws(GGUFWriteError) {
        guard version == 2 || version == 3 else { throw .unsupportedVersion(version) }
        self.version = version
    }

    deinit {
        if let out = output {
            close(out.fd)
            unlink(out.partPath)
        }
    }

    public var alignment: Int {
        metadata["general.alignment"]?.intValue ?? GGUFFile.defaultAlignment
    }

    private func requireDeclaring(_ what: String) throws(GGUFWriteError) {
        guard output == nil, !finished else { throw .wrongState("\(what) after tensor data writing began") }
    }

    public func addMetadata(_ key: String, _ value: GGUFValue) throws(GGUFWriteError) {
        try requireDeclaring("addMetadata('\(key)')")
        guard metadata[key] == nil else { throw .duplicateKey(key) }
        if let reason = GGUFEncoder.defect(in: value) { throw .invalidValue(key: key, reason: reason) }
        if key == "general.alignment" {
            guard case .uint32(let a) = value, a > 0, a & (a - 1) == 0 else {
                throw .invalidValue(key: key, reason: "must be a power-of-two uint32, got \(value)")
            }
        }
        metadata[key] = value
        metadataKeys.append(key)
    }

    /// Declares a tensor whose bytes are supplied later through `write(tensorData:)`.
    public func addTensor(name: String, shape: [Int], type: GGMLType) throws(GGUFWriteError) {
        try declare(name: name, shape: shape, type: type, data: nil)
    }

    /// Declares a tensor with its bytes held in memory (for `write(to:)`).
    public func addTensor(name: String, shape: [Int], type: GGMLType, data: [UInt8]) throws(GGUFWriteError) {
        try declare(name: name, shape: shape, type: type, data: data)
    }

    private func declare(name: String, shape: [Int], type: GGMLType, data: [UInt8]?) throws(GGUFWriteError) {
        try requireDeclaring("addTensor('\(name)')")
        guard !tensorNames.contains(name) else { throw .duplicateTensor(name) }
        guard shape.count <= 4 else { throw .invalidShape(name: name, reason: "\(shape.count) dimensions, at most 4") }
        guard shape.allSatisfy({ $0 >= 0 }) else { throw .invalidShape(name: name, reason: "negative dimension in \(shape)") }
        var elements = 1
        for d in shape {
            let (p, o) = elements.multipliedReportingOverflow(by: d)
            guard !o else { throw .invalidShape(name: name, reason: "element count of \(shape) overflows") }
            elements = p
        }
        let ne0 = shape.first ?? 1
        guard ne0 % type.blockSize == 0, let bytes = type.byteCount(elements: elements) else {
            throw .invalidShape(name: name,
                                reason: "ne0 = \(ne0) is not a multiple of the \(type.name) block size \(type.blockSize)")
        }
        if let data, data.count != bytes { throw .dataSizeMismatch(name: name, expected: bytes, actual: data.count) }
        tensorNames.insert(name)
        declared.append(Declared(name: name, shape: shape, type: type, byteCount: bytes, data: data))
    }

    /// Directory entries as they will be written (offsets depend on the current alignment).
    public var tensorInfos: [GGUFTensorInfo] {
        var offset = 0
        let a = alignment
        return declared.map { d in
            defer { offset += (d.byteCount + a - 1) / a * a }
            return GGUFTensorInfo(name: d.name, shape: d.shape, type: d.type, offset: offset, byteCount: d.byteCount)
        }
    }

    /// Creates "<path>.part" and writes header, metadata and tensor directory.
    public func beginTensorData(path: String) throws(GGUFWriteError) {
        try requireDeclaring("beginTensorData")
        var enc = GGUFEncoder()
        enc.put(GGUFFile.magic)
        enc.put(version)
        enc.put(UInt64(declared.count))
        enc.put(UInt64(metadataKeys.count))
        for key in metadataKeys {
            guard let value = metadata[key] else { continue }
            enc.put(key)
            enc.put(value.type.rawValue)
            enc.put(value)
        }
        for info in tensorInfos {
            enc.put(info.name)
            enc.put(UInt32(info.shape.count))
            for d in info.shape { enc.put(UInt64(d)) }
            enc.put(info.type.rawValue)
            enc.put(UInt64(info.offset))
        }
        enc.pad(to: alignment)

        let partPath = path + ".part"
        let fd = open(partPath, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw .io(path: partPath, message: "cannot create: \(Self.lastError())") }
        output = Output(fd: fd, path: path, partPath: partPath)
        try writeAll(enc.bytes)
    }

    /// Writes the next declared tensor's bytes (declaration order) plus alignment padding.
    public func write(tensorData: UnsafeRawBufferPointer) throws(GGUFWriteError) {
        guard let out = output else { throw .wrongState("write(tensorData:) before beginTensorData") }
        guard out.nextTensor < declared.count else {
            throw .wrongState("write(tensorData:) called more often than the \(declared.count) declared tensors")
        }
        let d = declared[out.nextTensor]
        guard tensorData.count == d.byteCount else {
            throw .dataSizeMismatch(name: d.name, expected: d.byteCount, actual: tensorData.count)
        }
        try writeAll(tensorData)
        let r = d.byteCount % alignment
        if r != 0 {
            try writeAll([UInt8](repeating: 0, count: alignment - r))
        }
        output?.nextTensor += 1
    }

    /// Flushes, closes and renames "<path>.part" to the final path.
    public func finish() throws(GGUFWriteError) {
        guard let out = output else { throw .wrongState("finish() before beginTensorData") }
        guard out.nextTensor == declared.count else { throw .missingTensorData(declared[out.nextTensor].name) }
        output = nil
        defer { finished = true }
        let synced = fsync(out.fd) == 0
        let syncError = Self.lastError()
        close(out.fd)
        guard synced else {
            unlink(out.partPath)
            throw .io(path: out.partPath, message: "fsync failed: \(syncError)")
        }
        guard rename(out.partPath, out.path) == 0 else {
            let e = Self.lastError()
            unlink(out.partPath)
            throw .io(path: out.path, message: "cannot rename from \(out.partPath): \(e)")
        }
    }

    /// Writes the whole file when every tensor was declared with its data.
    public func write(to path: String) throws(GGUFWriteError) {
        if let missing = declared.first(where: { $0.data == nil }) { throw .missingTensorData(missing.name) }
        try beginTensorData(path: path)
        for i in declared.indices {
            guard let bytes = declared[i].data else { continue }
            if let e = bytes.withUnsafeBytes({ b in Result { () throws(GGUFWriteError) in try write(tensorData: b) } })
                .failure { throw e }
        }
        try finish()
    }

    private func writeAll(_ bytes: [UInt8]) throws(GGUFWriteError) {
        if let e = bytes.withUnsafeBytes({ b in Result { () throws(GGUFWriteError) in try writeAll(b) } }).failure {
            throw e
        }
    }

    private func writeAll(_ buffer: UnsafeRawBufferPointer) throws(GGUFWriteError) {
        guard let out = output else { throw .wrongState("no open output") }
        guard let base = buffer.baseAddress else { return }
        var done = 0
        while done < buffer.count {
            let n = systemWrite(out.fd, base + done, buffer.count - done)
            if n < 0 {
                if errno == EINTR { continue }
                throw .io(path: out.partPath, message: "write failed: \(Self.lastError())")
            }
            done += n
        }
    }

    private static func lastError() -> String { String(cString: strerror(errno)) }
}

private func systemWrite(_ fd: Int32, _ p: UnsafeRawPointer, _ n: Int) -> Int {
    write(fd, p, n)
}

private extension Result {
    var failure: Failure? {
        if case .failure(let e) = self { return e }
        return nil
    }
}
