//! Split points: the page's heavy steps, fetched the first time a step needs them.
//!
//! With the `split` feature (the page's own build, `scripts/build-page`), each function declared
//! by [`split_point!`] becomes a `wasm_split_helpers` split point: wasm-split-cli moves its code,
//! and every function only it reaches, into a chunk of its own (`split_<chunk>.wasm`), which the
//! page fetches and instantiates on the first call, sharing the main module's memory and table. A
//! preload function starts that fetch early (when the user presses Connect device, say), so a step
//! rarely waits for its code. Without the feature (the browser tests, key-rescue-sim) the same
//! function is a plain async function and its preload does nothing.
//!
//! A split function takes owned values and returns the step as a boxed future ([`Task`]), so the
//! step's state machine is the chunk's code, not the caller's. Its only failure is the chunk's
//! download ([`ChunkNotLoaded`]), which happens before the step starts: nothing was read or
//! written, and the step's button works again.

use std::future::Future;
use std::pin::Pin;

/// A step's future, as a split function hands it over.
pub type Task<T> = Pin<Box<dyn Future<Output = T>>>;

/// A chunk of the page's code could not be fetched or instantiated (offline, say). The browser's
/// console has the cause; `wasm_split_helpers` does not pass it on.
#[derive(Debug)]
pub struct ChunkNotLoaded;

impl From<wasm_split_helpers::SplitLoaderError> for ChunkNotLoaded {
    fn from(_: wasm_split_helpers::SplitLoaderError) -> Self {
        Self
    }
}

/// Declares `fn $name(args) -> Result<Task<T>, ChunkNotLoaded>` (async) whose body goes into the
/// chunk `$chunk` with the `split` feature, and, if named, `$preload`: an async function that
/// fetches that chunk without running anything.
macro_rules! split_point {
    (
        $(#[$attr:meta])*
        chunk $chunk:ident $(, preload $preload:ident)?;
        fn $name:ident($($arg:ident: $ty:ty),* $(,)?) -> $out:ty $body:block
    ) => {
        $(#[$attr])*
        #[cfg(feature = "split")]
        #[wasm_split_helpers::wasm_split($chunk, fallible $(, preload($preload))?)]
        fn $name($($arg: $ty),*) -> Result<$crate::ui::split::Task<$out>, $crate::ui::split::ChunkNotLoaded> {
            let task = $body;
            Ok(Box::pin(task))
        }

        $(#[$attr])*
        #[cfg(not(feature = "split"))]
        async fn $name($($arg: $ty),*) -> Result<$crate::ui::split::Task<$out>, $crate::ui::split::ChunkNotLoaded> {
            let task = $body;
            Ok(Box::pin(task))
        }

        $(
            #[cfg(not(feature = "split"))]
            #[allow(clippy::unused_async)]
            async fn $preload() -> Result<(), wasm_split_helpers::SplitLoaderError> {
                Ok(())
            }
        )?
    };
}
