//! Shared widgets: they take plain props or read the store, and hold no logic.

mod download;
mod error;
mod log;
mod progress;

pub use download::download;
pub use error::ErrorPanel;
pub use log::LogPanel;
pub use progress::ProgressBar;
