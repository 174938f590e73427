//! Definitions (being written).
use crate::error::ApiError;
pub async fn export_all() -> ApiError { ApiError::NotFound }
pub async fn import_all() -> ApiError { ApiError::NotFound }
pub async fn export_vhost() -> ApiError { ApiError::NotFound }
pub async fn import_vhost() -> ApiError { ApiError::NotFound }
pub fn import_text(_b: &warren_broker::Broker, _v: Option<&str>, _t: &str) -> Result<(), String> { Ok(()) }
