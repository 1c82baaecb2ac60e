//! Shared widgets: they take plain props or read the store, and hold no logic.

mod download;
mod error;
mod file;
mod log;
mod progress;
mod rich;

pub use download::download;
pub use error::ErrorPanel;
pub use file::read_picked;
pub use log::LogPanel;
pub use progress::ProgressBar;
pub use rich::rich;
