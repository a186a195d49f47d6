//! Scratch directories for tests, which do not pile up in the temporary directory run after run.
//!
//! Each is `<temp>/appwrite-webhooks-tests/<pid>/<name>`: one folder per test process. A test
//! binary ends with `process::exit`, so nothing runs after its last test to delete its folder;
//! instead the first scratch directory a process asks for deletes the folders of processes that
//! have ended. What tests leave behind is then what the processes of the last run left, never
//! the sum of every run. Where a process's life cannot be told (no `/proc`), nothing is deleted.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

/// An empty directory of this process's own for `name` (emptied if a test of this process
/// asked for the same name before), created with its parents.
///
/// ```
/// let dir = testkit::scratch::dir("doc-example");
/// assert!(std::fs::read_dir(&dir).unwrap().next().is_none());
/// ```
pub fn dir(name: &str) -> PathBuf {
    let dir = own_root().join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir)
        .unwrap_or_else(|e| panic!("cannot create {}: {e}", dir.display()));
    dir
}

/// This process's folder, made once; the first call also deletes the folders of ended processes.
fn own_root() -> &'static Path {
    static ROOT: OnceLock<PathBuf> = OnceLock::new();
    ROOT.get_or_init(|| {
        let root = std::env::temp_dir().join("appwrite-webhooks-tests");
        forget_ended(&root);
        root.join(std::process::id().to_string())
    })
}

/// Deletes the folders under `root` named for a process that no longer runs.
fn forget_ended(root: &Path) {
    let proc = Path::new("/proc");
    if !proc.join("self").exists() {
        return;
    }
    let Ok(entries) = std::fs::read_dir(root) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(pid) = name
            .to_str()
            .filter(|n| n.bytes().all(|b| b.is_ascii_digit()))
        else {
            continue;
        };
        if !proc.join(pid).exists() {
            // Another process may be deleting it too: whoever is second finds it gone.
            let _ = std::fs::remove_dir_all(entry.path());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_dir_is_empty_and_the_folders_of_ended_processes_go() {
        let root = std::env::temp_dir().join("appwrite-webhooks-tests");
        // A folder named for a process id that cannot run (above Linux's pid_max).
        let ended = root.join("4194305");
        std::fs::create_dir_all(ended.join("left-behind")).unwrap();
        let alive = root.join("1"); // init never ends
        std::fs::create_dir_all(&alive).unwrap();

        forget_ended(&root);
        let first = dir("scratch-test");
        std::fs::write(first.join("file"), b"x").unwrap();
        let again = dir("scratch-test");
        assert_eq!(first, again);
        assert!(
            std::fs::read_dir(&again).unwrap().next().is_none(),
            "emptied"
        );
        assert!(again.starts_with(root.join(std::process::id().to_string())));
        if Path::new("/proc/self").exists() {
            assert!(!ended.exists(), "an ended process's folder is deleted");
            assert!(alive.exists(), "a running process's folder is kept");
        }
        let _ = std::fs::remove_dir(&alive);
        let _ = std::fs::remove_dir_all(&ended);
    }
}
