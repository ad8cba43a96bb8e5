"""Modal dialogs and full screens of the TUI."""
