//! canh-tui
