#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A read-only private memory mapping of a whole regular file; unmapped on deinit.
final class MappedFile: @unchecked Sendable {
    let base: UnsafeRawPointer
    let size: Int

    init(path: String) throws(GGUFError) {
        func fail(_ defect: GGUFError.Defect) -> GGUFError { GGUFError(path: path, defect: defect) }
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else {
            let err = errno
            let reason = err == ENOENT ? "no such file" : String(cString: strerror(err))
            throw fail(.ioError("cannot open the file: \(reason)."))
        }
        defer { close(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0 else {
            throw fail(.ioError("cannot stat the file: \(String(cString: strerror(errno)))."))
        }
        guard (st.st_mode & S_IFMT) == S_IFREG else { throw fail(.notAFile) }
        guard st.st_size > 0 else { throw fail(.ioError("the file is empty (0 bytes).")) }
        guard let size = Int(exactly: st.st_size) else {
            throw fail(.ioError("the file is too large to map (\(st.st_size) bytes)."))
        }
        let p = mmap(nil, size, PROT_READ, MAP_PRIVATE, fd, 0)
        guard let p, p != UnsafeMutableRawPointer(bitPattern: -1) else {
            throw fail(.ioError("cannot memory-map the file: \(String(cString: strerror(errno)))."))
        }
        base = UnsafeRawPointer(p)
        self.size = size
    }

    deinit {
        munmap(UnsafeMutableRawPointer(mutating: base), size)
    }
}
