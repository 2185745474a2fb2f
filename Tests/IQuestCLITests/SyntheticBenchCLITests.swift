import Foundation
import XCTest

/// `iquest bench --synthetic`: the real IQuest shape with random weights, the bandwidth line and
/// the extra columns, and the refusals (memory, unsupported type, unknown shape).
final class SyntheticBenchCLITests: XCTestCase {
    func testOneLayerOf7BPrintsRowsAndBandwidth() throws {
        let r = try runIQuest(["bench", "--synthetic", "iquest-7b", "--layers", "1", "--type", "q4_0",
                               "-p", "16", "-n", "4", "-r", "1", "-t", "2"], timeout: 300)
        XCTAssertTrue(r.exitedNormally && r.status == 0, r.summary)
        // The build line names the shape: 1 layer, 0.487 + 0.786 B parameters, q4_0.
        XCTAssertTrue(r.stdout.contains("iquest-7b/1L q4_0 (synthetic): 1 layers, 1.274 B parameters"), r.summary)
        let bandwidth = try XCTUnwrap(r.stdoutLines.first { $0.hasPrefix("memory read bandwidth: ") }, r.summary)
        let rate = Double(bandwidth.dropFirst("memory read bandwidth: ".count).split(separator: " ").first ?? "")
        XCTAssertGreaterThan(rate ?? 0, 0, bandwidth)
        XCTAssertTrue(bandwidth.contains("2 threads"), bandwidth)

        let rows = r.stdoutLines.filter { $0.hasPrefix("| iquest-7b/1L q4_0 (synthetic) |") }
        XCTAssertEqual(rows.count, 2, r.summary)
        for row in rows {
            let cells = row.split(separator: "|").map { $0.trimmingCharacters(in: .whitespaces) }
            XCTAssertEqual(cells.count, 8, row)
            guard cells.count == 8 else { continue }
            // 487,587,840 + 786,432,000 q4_0 elements at 18/32 bytes, plus the f32 norms.
            XCTAssertEqual(cells[1], String(format: "%.1f MiB", Double((487_587_840 + 786_432_000) / 32 * 18 + 15_360 * 4) / 1_048_576), row)
            XCTAssertEqual(cells[2], "2", row)
            XCTAssertGreaterThan(Double(cells[4].split(separator: " ").first ?? "") ?? 0, 0, row)
            XCTAssertGreaterThan(Double(cells[5]) ?? 0, 0, row)
            if cells[3] == "pp16" {
                XCTAssertTrue(cells[6].hasSuffix(" GFLOP/s") && (Double(cells[6].split(separator: " ")[0]) ?? 0) > 0, row)
            } else {
                XCTAssertEqual(cells[3], "tg4", row)
                XCTAssertTrue(cells[6].hasSuffix(" GB/s") && (Double(cells[6].split(separator: " ")[0]) ?? 0) > 0, row)
                XCTAssertTrue(cells[7].hasSuffix("%") && (Double(cells[7].dropLast()) ?? 0) > 0, row)
            }
        }
        XCTAssertTrue(r.stdoutLines.contains { $0.hasPrefix("peak RSS: ") }, r.summary)
        XCTAssertTrue(r.stderr.contains("100%"), "progress goes to stderr\n\(r.summary)")
    }

    func testLoopShapeRunsBothPasses() throws {
        let r = try runIQuest(["bench", "--synthetic", "iquest-40b-loop", "--layers", "1", "--loop-window", "4",
                               "--type", "q8_0", "-p", "8", "-n", "6", "-r", "1", "-t", "2"], timeout: 300)
        XCTAssertTrue(r.exitedNormally && r.status == 0, r.summary)
        XCTAssertTrue(r.stdout.contains("1 layers × 2 passes, window 4"), r.summary)
        XCTAssertEqual(r.stdoutLines.filter { $0.hasPrefix("| iquest-40b-loop/1L q8_0 (synthetic) |") }.count, 2, r.summary)
    }

    /// 40B in f32 is ~160 GB: refused before anything is allocated, in one line naming what it
    /// needs against MemAvailable.
    func testImpossibleSizeIsRefusedWithNeedAndAvailable() throws {
        let r = try runIQuest(["bench", "--synthetic", "iquest-40b", "--type", "f32", "-p", "16", "-n", "4"])
        XCTAssertTrue(r.exitedNormally, r.summary)
        XCTAssertNotEqual(r.status, 0, r.summary)
        XCTAssertEqual(r.stderrLines.count, 1, r.summary)
        let line = r.stderrLines.first ?? ""
        XCTAssertTrue(line.hasPrefix("error: synthetic iquest-40b (80 layers, f32) needs "), line)
        XCTAssertTrue(line.contains("weights 159.18 GB"), line)
        XCTAssertTrue(line.contains("but MemAvailable is "), line)
        XCTAssertTrue(line.contains("would fit") || line.contains("not even one layer fits"), line)
        XCTAssertTrue(r.stdout.isEmpty, r.summary)
    }

    func testUnsupportedArgumentsAreRefused() throws {
        // q4_k / q6_k run (one type for every matrix); the q4_k_m mix is a conversion recipe only.
        for (args, words) in [(["--synthetic", "iquest-7b", "--type", "q4_k_m"], ["q4_k"]),
                              (["--synthetic", "iquest-7b", "--type", "q3_x"], ["q3_x"]),
                              (["--synthetic", "iquest-70b"], ["iquest-70b", "iquest-40b-loop"]),
                              (["--synthetic", "iquest-7b", "--layers", "0"], ["--layers"]),
                              (["--synthetic", "iquest-7b", "--loop-window", "8"], ["Loop"]),
                              ([], ["--synthetic"])] {
            let r = try runIQuest(["bench"] + args + ["-p", "4", "-n", "2"])
            XCTAssertTrue(r.exitedNormally, r.summary)
            XCTAssertNotEqual(r.status, 0, "\(args): \(r.summary)")
            for word in words { XCTAssertTrue(r.stderr.contains(word), "\(args) should mention \(word): \(r.summary)") }
        }
    }
}
