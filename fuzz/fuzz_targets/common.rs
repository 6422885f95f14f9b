//! Helpers shared by the fuzz targets.
#![forbid(unsafe_code)]

/// A scratch folder for files the targets write: tmpfs when available, since the consent record writer fsyncs.
pub fn tmp_root() -> std::path::PathBuf {
    let shm = std::path::Path::new("/dev/shm");
    if shm.is_dir() {
        shm.to_path_buf()
    } else {
        std::env::temp_dir()
    }
}
