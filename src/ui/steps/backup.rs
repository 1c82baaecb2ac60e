//! Back up: the backup is held in the page; each file can be downloaded (named like the CLI's).

use crate::ui::erased::{dynamic, on};
use crate::ui::store::Store;
use leptos::prelude::*;

#[component]
pub fn BackupStep() -> impl IntoView {
    let store = expect_context::<Store>();
    dynamic(move || {
        let names = store.backup_files.get();
        (!names.is_empty() && store.diagnosis.get().is_some()).then(|| {
            view! {
                <div class="step">
                    <h3>"3. Backup"</h3>
                    <p>
                        "The keys as they were before any change are held in this page (and restored "
                        "automatically if a write fails). Download them to keep a copy: the files "
                        "hold the device's private key, so keep them private."
                    </p>
                    <div class="downloads" data-testid="backup-downloads">
                        {names
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
                            .collect_view()}
                    </div>
                </div>
            }
        })
    })
}
