/// The Python that runs inside the sandbox: it reads the program from stdin, executes it, and
/// reports a verdict the classifier can read without parsing tracebacks: on success a last stdout
/// line `passMarker`; on any exception (SystemExit included, so a program cannot exit 0 before
/// its tests ran) a stderr line `errorMarker`, type, errno, message separated by tabs, then exit 3.
/// `__name__` is not "__main__", so a completion's `if __name__ == "__main__":` block does not run.
public enum SandboxHarness {
    public static let passMarker = "IQUEST_SANDBOX_PASSED"
    public static let errorMarker = "IQUEST_SANDBOX_ERROR"

    static let script = """
    import sys
    source = sys.stdin.read()
    try:
        exec(compile(source, "<program>", "exec"), {"__name__": "__program__", "__builtins__": __builtins__})
    except BaseException as e:
        import traceback
        traceback.print_exc(limit=-3)
        message = str(e).replace("\\t", " ").replace("\\n", " ")[:200]
        number = getattr(e, "errno", None)
        sys.stderr.write("\\n\(errorMarker)\\t%s\\t%s\\t%s\\n" % (type(e).__name__, "" if number is None else number, message))
        sys.stderr.flush()
        sys.exit(3)
    sys.stdout.write("\\n\(passMarker)\\n")
    """
}
