import Foundation

/// A bar chart of pass@1 per run with its 95 % Wilson interval as a whisker, as a standalone SVG.
public enum PassChart {
    public struct Bar: Sendable {
        public var name: String
        public var passed: Int
        public var total: Int
        public init(name: String, passed: Int, total: Int) {
            self.name = name
            self.passed = passed
            self.total = total
        }
    }

    public static func svg(_ bars: [Bar], title: String = "HumanEval pass@1") -> String {
        let barWidth = 90.0, gap = 40.0, left = 60.0, top = 40.0, plotHeight = 260.0
        let width = left + Double(bars.count) * (barWidth + gap) + gap, height = top + plotHeight + 70
        func y(_ fraction: Double) -> Double { top + plotHeight * (1 - fraction) }
        var out = """
        <svg xmlns="http://www.w3.org/2000/svg" width="\(Int(width))" height="\(Int(height))" font-family="sans-serif" font-size="12">
        <rect width="100%" height="100%" fill="white"/>
        <text x="\(Int(width / 2))" y="22" text-anchor="middle" font-size="15">\(escape(title))</text>

        """
        let peak = max(0.1, bars.map { PassAtK.wilson(successes: $0.passed, trials: $0.total).high }.max() ?? 1)
        let scale = min(1, (peak * 10).rounded(.up) / 10)
        func yScaled(_ fraction: Double) -> Double { y(fraction / scale) }
        for tick in stride(from: 0.0, through: scale + 1e-9, by: scale / 5) {
            out += String(format: "<line x1=\"%.0f\" x2=\"%.0f\" y1=\"%.1f\" y2=\"%.1f\" stroke=\"#ddd\"/>", left, width - gap / 2, yScaled(tick), yScaled(tick))
            out += String(format: "<text x=\"%.0f\" y=\"%.1f\" text-anchor=\"end\">%.0f%%</text>\n", left - 6, yScaled(tick) + 4, tick * 100)
        }
        for (index, bar) in bars.enumerated() {
            let fraction = Double(bar.passed) / Double(max(1, bar.total))
            let interval = PassAtK.wilson(successes: bar.passed, trials: bar.total)
            let x = left + gap + Double(index) * (barWidth + gap), middle = x + barWidth / 2
            out += String(format: "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.0f\" height=\"%.1f\" fill=\"#4878a8\"/>\n", x, yScaled(fraction),
                          barWidth, yScaled(0) - yScaled(fraction))
            out += String(format: "<line x1=\"%.1f\" x2=\"%.1f\" y1=\"%.1f\" y2=\"%.1f\" stroke=\"black\"/>\n", middle, middle,
                          yScaled(interval.low), yScaled(interval.high))
            out += String(format: "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">%.1f%% (%d/%d)</text>\n", middle,
                          yScaled(interval.high) - 6, fraction * 100, bar.passed, bar.total)
            out += String(format: "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">%@</text>\n", middle, yScaled(0) + 18, escape(bar.name))
        }
        out += String(format: "<text x=\"%.0f\" y=\"%.0f\" text-anchor=\"middle\" fill=\"#555\">whiskers: 95%% Wilson interval</text>\n",
                      width / 2, height - 12)
        return out + "</svg>\n"
    }

    static func escape(_ text: String) -> String {
        text.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
            .replacingOccurrences(of: ">", with: "&gt;").replacingOccurrences(of: "\"", with: "&quot;")
    }
}
