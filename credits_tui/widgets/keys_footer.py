"""Textual's footer, rebuilt only when the keys it shows change."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.widgets import Footer
from textual.widgets._footer import FooterKey


class KeysFooter(Footer):
    """The footer of every screen, rebuilt only when the keys it shows change.

    Textual rebuilds a footer, each key a new widget styled afresh, whenever the screen's keys
    may have changed: on each change of focus, each time the screen is shown or hidden, and
    once more for each of those. A section's first show rebuilt its footer five times and hid
    Status's once more, a third of the styling that a first visit to Manage costs.
    """

    def __init__(self, *, compact: bool = True) -> None:
        # Compact by default: a section's keys fit 80 columns so (the tab bar already shows 1-5).
        super().__init__(compact=compact)
        self._built_for: tuple[object, ...] | None = None

    def _keys_shown(self) -> tuple[object, ...]:
        """What the footer shows: the screen's keys as ``Footer.compose`` picks them, and the
        command palette's key (shown apart, at the right)."""
        app = self.app
        return tuple(
            (binding.key, app.get_key_display(binding), binding.description, binding.action, binding.group,
             enabled, tooltip)
            for key, (_, binding, enabled, tooltip) in self.screen.active_bindings.items()
            if binding.show or key == app.COMMAND_PALETTE_BINDING)

    async def recompose(self) -> None:
        if self.is_attached and self._bindings_ready and self._keys_shown() == self._built_for:
            return
        await super().recompose()

    def compose(self) -> ComposeResult:
        # Noted as Textual's compose reads them, not when the rebuild was asked for: the keys
        # may change again while the old ones are being removed.
        self._built_for = self._keys_shown() if self._bindings_ready else None
        for widget in super().compose():
            if isinstance(widget, FooterKey):
                # Compact from the start: Textual makes a key so only once it is mounted, and
                # styles it a second time for that.
                widget.set_class(self.compact, "-compact", update=False)
            yield widget
