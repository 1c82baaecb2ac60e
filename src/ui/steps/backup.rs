//! Back up: the backup is held in the page; each file can be downloaded (named like the CLI's).

use crate::ui::erased::{dynamic, on};
use crate::ui::store::Store;
use leptos::prelude::*;

pub fn summary(store: Store) -> String {
    let n = store.backup_files.with(Vec::len);
    format!(
        "{n} file{} held in this page.",
        if n == 1 { "" } else { "s" }
    )
}

pub fn body(store: Store) -> AnyView {
    view! {
        <p>
            "The keys as they were before any change are held in this page (and restored "
            "automatically if a write fails). Download them to keep a copy: the files hold the "
            "device's private key, so keep them private."
        </p>
        <div class="downloads" data-testid="backup-downloads">
            {dynamic(move || {
                store
                    .backup_files
                    .get()
                    .into_iter()
                    .map(|name| {
                        let label = name.clone();
                        view! {
                            <button
                                type="button"
                                class="secondary file"
                                on:click=on(move |_| store.download_backup_file(&name))
                            >
                                {label}
                            </button>
                        }
                    })
                    .collect_view()
            })}
        </div>
    }
    .into_any()
}
