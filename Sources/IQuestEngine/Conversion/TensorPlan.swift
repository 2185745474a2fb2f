import IQuestFormats
import IQuestKernels
import IQuestModels

/// One output tensor of a conversion: where its rows come from and how they are stored.
struct PlannedTensor {
    /// GGUF name (llama.cpp convention).
    let name: String
    /// Outermost first: [rows, columns] for matrices, [count] for vectors.
    let shape: [Int]
    let kind: WeightKind
    /// Fills `row` (columns f32 values) with output row r.
    let readRow: (_ r: Int, _ row: UnsafeMutablePointer<Float>) -> Void

    var rows: Int { shape.count == 1 ? 1 : shape[0] }
    var columns: Int { shape.last ?? 0 }
    /// GGUF lists dimensions innermost first.
    var ggufShape: [Int] { shape.reversed() }
}

/// Rows of a stored tensor decoded to f32.
struct StoredRows {
    let kind: WeightKind
    let base: UnsafeRawPointer
    let columns: Int

    func read(_ r: Int, into row: UnsafeMutablePointer<Float>) {
        dequantizeRow(kind, base + r * kind.rowBytes(columns: columns), into: row, count: columns)
    }
}

/// HF rotate-half → llama.cpp adjacent-pair order inside each head of `headDim`: output index
/// 2i+j takes input index j·headDim/2 + i. llama.cpp's converter applies this to Q and K rows;
/// the Loop gate's columns index the same rotated query dimensions, so they get it too.
@inline(__always) func ropePermuted(_ index: Int, headDim: Int) -> Int {
    let head = index / headDim, within = index % headDim
    let half = headDim / 2
    return head * headDim + (within % 2) * half + within / 2
}

/// Why a conversion cannot proceed; names the file or tensor.
public struct ConversionError: Error, CustomStringConvertible, Equatable {
    public let message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}
