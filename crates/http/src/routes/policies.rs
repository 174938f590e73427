//! Policies (being written).
use crate::error::ApiError;
pub async fn all() -> ApiError { ApiError::NotFound }
pub async fn in_vhost() -> ApiError { ApiError::NotFound }
pub async fn one() -> ApiError { ApiError::NotFound }
pub async fn put() -> ApiError { ApiError::NotFound }
pub async fn remove() -> ApiError { ApiError::NotFound }
