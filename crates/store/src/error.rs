//! Store errors.

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("I/O error on {path}: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("definitions store: {0}")]
    Sled(#[from] sled::Error),
    #[error("definitions store has schema version {found}, this Warren supports up to {supported}; refusing to start")]
    NewerSchema { found: u32, supported: u32 },
    #[error("corrupt definition {key}: {reason}")]
    Corrupt { key: String, reason: String },
}

impl StoreError {
    pub fn io(path: &std::path::Path, source: std::io::Error) -> StoreError {
        StoreError::Io {
            path: path.display().to_string(),
            source,
        }
    }
}
