import Foundation
import Testing
import IQuestEval

/// Stop rules and code extraction on completions of the kinds small models produce.
struct CompletionRulesTests {
    @Test(arguments: [
        // A body, then the model starts a new function: cut before it.
        ("    return a + b\n\n\ndef main():\n    print(add(1, 2))\n", "    return a + b\n\n"),
        ("    return a + b\n\nif __name__ == \"__main__\":\n    main()\n", "    return a + b\n"),
        ("    return a + b\n\nprint(add(1, 2))", "    return a + b\n"),
        ("    return a + b\n# Test\n", "    return a + b"),
        ("    return a + b\nclass Foo:\n    pass\n", "    return a + b"),
        // Indented ifs, comments and prints belong to the body and stay.
        ("    if a > b:\n        # bigger\n        print(a)\n    return a + b\n", "    if a > b:\n        # bigger\n        print(a)\n    return a + b\n"),
        // A helper defined after the body is cut as well (the Codex rules).
        ("    return helper(a, b)\n\ndef helper(a, b):\n    return a + b\n", "    return helper(a, b)\n"),
        ("", ""),
    ])
    func stopStrings(_ text: String, _ expected: String) {
        #expect(CompletionRules.truncate(text) == expected)
    }

    @Test func theEarliestStopWins() {
        #expect(CompletionRules.truncate("    x = 1\nprint(x)\ndef f(): pass\n") == "    x = 1")
    }

    @Test func chatFullRedefinitionIsAppendedAfterThePrompt() {
        let reply = "Here is the function:\n\n```python\ndef add(a: int, b: int) -> int:\n    return a + b\n```\n\nIt adds."
        let code = CompletionRules.extractChat(reply, problem: EvalAssets.addProblem)
        #expect(code == "\ndef add(a: int, b: int) -> int:\n    return a + b\n")
        let program = EvalAssets.addProblem.program(completion: code)
        #expect(program.hasPrefix(EvalAssets.addProblem.prompt + "\ndef add("))
        #expect(program.hasSuffix("check(add)\n"))
    }

    @Test func chatBodyOnlyIsIndented() {
        let reply = "```python\nreturn a + b\n```"
        #expect(CompletionRules.extractChat(reply, problem: EvalAssets.addProblem) == "    return a + b\n")
        let indented = "```\n    total = a + b\n    return total\n```"
        #expect(CompletionRules.extractChat(indented, problem: EvalAssets.addProblem) == "    total = a + b\n    return total\n")
    }

    @Test func chatPrefersTheBlockDefiningTheEntryPoint() {
        let reply = "Usage:\n```python\nprint(add(1, 2))\n```\nCode:\n```python\nimport math\n\ndef add(a, b):\n    return a + b\n```\n"
        #expect(CompletionRules.extractChat(reply, problem: EvalAssets.addProblem) == "\nimport math\n\ndef add(a, b):\n    return a + b\n")
    }

    @Test func chatUnclosedFenceAndNoFence() {
        #expect(CompletionRules.extractChat("```python\ndef add(a, b):\n    return a + b", problem: EvalAssets.addProblem)
                == "\ndef add(a, b):\n    return a + b\n")
        #expect(CompletionRules.extractChat("def add(a, b):\n    return b + a\n", problem: EvalAssets.addProblem)
                == "\ndef add(a, b):\n    return b + a\n")
        #expect(CompletionRules.fencedBlocks("no code here").isEmpty)
    }

    @Test func programLayoutMatchesHumanEvalsHarness() throws {
        let problem = EvalAssets.addProblem
        #expect(problem.program(completion: "    return a + b\n")
                == problem.prompt + "    return a + b\n" + "\n" + problem.test + "\n" + "check(add)\n")
    }

    @Test func dataFileHoldsTheWholeBenchmark() throws {
        let problems = try EvalAssets.problems()
        #expect(problems.count == 164)
        #expect(problems.first?.taskId == "HumanEval/0" && problems.last?.taskId == "HumanEval/163")
        #expect(Set(problems.map(\.taskId)).count == 164)
        #expect(problems.allSatisfy { $0.prompt.contains("def \($0.entryPoint)(") && $0.test.contains("def check(") })
    }

    @Test func jobsCarryModeStopsAndSeeds() {
        var settings = EvalSettings()
        settings.samples = 3
        settings.temperature = 0.8
        settings.seed = 41
        let jobs = HumanEvalRun.jobs([EvalAssets.addProblem], settings: settings)
        #expect(jobs.map(\.sample) == [0, 1, 2])
        #expect(jobs.map(\.seed) == [41, 42, 43])
        #expect(jobs[0].stopStrings == CompletionRules.stopStrings && jobs[0].text == EvalAssets.addProblem.prompt)
        settings.mode = .chat
        let chat = HumanEvalRun.jobs([EvalAssets.addProblem], settings: settings)
        #expect(chat[0].stopStrings.isEmpty && chat[0].text.contains("```python\n" + EvalAssets.addProblem.prompt + "```"))
    }
}
