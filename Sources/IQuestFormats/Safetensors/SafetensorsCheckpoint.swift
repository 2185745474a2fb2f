import Foundation

/// The weights of a Hugging Face checkpoint directory: `model.safetensors`, or shards listed by
/// `model.safetensors.index.json`. Every shard is mapped (not read) and every tensor the index
/// names must exist in the shard it points to.
public final class SafetensorsCheckpoint: @unchecked Sendable {
    public let directory: String
    private var files: [SafetensorsFile] = []
    private var location: [String: (file: Int, info: SafetensorsTensorInfo)] = [:]

    public init(directory: String) throws(SafetensorsError) {
        self.directory = directory
        let fm = FileManager.default
        let indexPath = (directory as NSString).appendingPathComponent("model.safetensors.index.json")
        let singlePath = (directory as NSString).appendingPathComponent("model.safetensors")
        if fm.fileExists(atPath: indexPath) {
            try loadSharded(indexPath: indexPath)
        } else if fm.fileExists(atPath: singlePath) {
            let file = try SafetensorsFile(path: singlePath)
            files = [file]
            for (name, info) in file.tensors { location[name] = (0, info) }
        } else {
            throw SafetensorsError("\(directory): no model.safetensors or model.safetensors.index.json")
        }
    }

    private func loadSharded(indexPath: String) throws(SafetensorsError) {
        let parsed: Any
        do {
            parsed = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: indexPath)))
        } catch {
            throw SafetensorsError("\(indexPath): not valid JSON")
        }
        guard let root = parsed as? [String: Any], let map = root["weight_map"] as? [String: Any] else {
            throw SafetensorsError("\(indexPath): missing the 'weight_map' object")
        }
        var shardIndex: [String: Int] = [:]
        for (name, value) in map.sorted(by: { $0.key < $1.key }) {
            guard let shard = value as? String, !shard.contains("/") else {
                throw SafetensorsError("\(indexPath): weight_map entry for '\(name)' is not a shard file name")
            }
            let fileIndex: Int
            if let i = shardIndex[shard] {
                fileIndex = i
            } else {
                let shardPath = (directory as NSString).appendingPathComponent(shard)
                guard FileManager.default.fileExists(atPath: shardPath) else {
                    throw SafetensorsError("\(indexPath): shard '\(shard)' (holding '\(name)') is missing from \(directory)")
                }
                files.append(try SafetensorsFile(path: shardPath))
                fileIndex = files.count - 1
                shardIndex[shard] = fileIndex
            }
            guard let info = files[fileIndex].tensors[name] else {
                throw SafetensorsError("\(indexPath): tensor '\(name)' is listed in shard '\(shard)' but that file does not contain it")
            }
            location[name] = (fileIndex, info)
        }
    }

    public var tensorNames: [String] { location.keys.sorted() }

    public func info(_ name: String) -> SafetensorsTensorInfo? { location[name]?.info }

    public func data(_ name: String) -> UnsafeRawBufferPointer? {
        guard let (file, info) = location[name] else { return nil }
        return files[file].data(for: info)
    }

    /// The file holding `name`, for error messages.
    public func path(of name: String) -> String? {
        guard let (file, _) = location[name] else { return nil }
        return files[file].path
    }
}
