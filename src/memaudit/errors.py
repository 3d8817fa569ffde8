"""The one exception type the CLI turns into a clear message and exit code 2."""


class UserInputError(Exception):
    """Bad input from the user: says what was expected, what arrived and how to fix it."""

    def __init__(self, expected: str, got: str, fix: str) -> None:
        self.expected, self.got, self.fix = expected, got, fix
        super().__init__(f"expected {expected}; got {got}. Fix: {fix}")
