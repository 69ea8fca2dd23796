"""Sentences a notebook computes, in the reader's language: `say(template, **values)`.

A chapter writes `utils.say("LeNet has **{params:,} parameters**.", params=n)`: the English
template is looked up in the active language's catalog (English: itself), then formatted with the
values, and shown as Markdown. Keeping the template apart from the values is what lets a
translation catalog hold it.
"""


class Say(str):
    """A str that Jupyter (and the built site) shows as Markdown."""

    def _repr_markdown_(self):
        return str(self)


def translate(template):
    """The active language's version of an English template (English: the template itself)."""
    return template


def say(template, **values):
    """Markdown: `template`, translated, formatted with `values`."""
    return Say(translate(template).format(**values))
