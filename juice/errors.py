"""The one exception family the product raises for bad input or a failed step."""


class JuiceError(Exception):
    """A failure with a message fit to show a user as one line."""
