//! EKS API errors and how they go on the wire: the model's status code, the
//! shape name in `x-amzn-ErrorType` (which the SDKs use to pick the error
//! type) and `{"message": ...}` as the JSON body.

use axum::http::{header, HeaderName, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

/// The header the AWS SDKs read the error shape name from.
pub const ERROR_TYPE_HEADER: HeaderName = HeaderName::from_static("x-amzn-errortype");

/// An error answer of the EKS API.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EksError {
    /// HTTP status.
    pub status: u16,
    /// Error shape name, e.g. `ResourceNotFoundException`.
    pub error_type: String,
    /// Human-readable message.
    pub message: String,
}

impl EksError {
    /// Any error shape.
    pub fn new(status: u16, error_type: &str, message: impl Into<String>) -> Self {
        Self {
            status,
            error_type: error_type.to_string(),
            message: message.into(),
        }
    }

    /// 400 InvalidParameterException.
    pub fn invalid_parameter(message: impl Into<String>) -> Self {
        Self::new(400, "InvalidParameterException", message)
    }

    /// 400 InvalidRequestException (used for bodies that are not the expected JSON).
    pub fn invalid_request(message: impl Into<String>) -> Self {
        Self::new(400, "InvalidRequestException", message)
    }

    /// 400 BadRequestException (tagging operations).
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(400, "BadRequestException", message)
    }

    /// 404 NotFoundException (tagging operations).
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(404, "NotFoundException", message)
    }

    /// 404 ResourceNotFoundException for a cluster that does not exist.
    pub fn cluster_not_found(cluster: &str) -> Self {
        Self::new(
            404,
            "ResourceNotFoundException",
            format!("No cluster found for name: {cluster}."),
        )
    }

    /// 404 ResourceNotFoundException for an unknown association id.
    pub fn association_not_found(id: &str) -> Self {
        Self::new(
            404,
            "ResourceNotFoundException",
            format!("No Pod Identity Association found with id {id}"),
        )
    }

    /// 409 ResourceInUseException for a second association of the same service account.
    pub fn already_exists(id: &str) -> Self {
        Self::new(
            409,
            "ResourceInUseException",
            format!("Association already exists: {id}"),
        )
    }

    /// 400 ResourceLimitExceededException.
    pub fn limit_exceeded(message: impl Into<String>) -> Self {
        Self::new(400, "ResourceLimitExceededException", message)
    }
}

impl IntoResponse for EksError {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        // An empty error type is an answer without one, as a front end's 502 comes.
        if self.error_type.is_empty() {
            return (status, self.message).into_response();
        }
        // An injected error type could hold characters a header cannot carry.
        let error_type = HeaderValue::from_str(&self.error_type)
            .unwrap_or_else(|_| HeaderValue::from_static("ServerException"));
        let body = serde_json::json!({ "message": self.message }).to_string();
        (
            status,
            [
                (ERROR_TYPE_HEADER, error_type),
                (
                    header::CONTENT_TYPE,
                    HeaderValue::from_static("application/json"),
                ),
            ],
            body,
        )
            .into_response()
    }
}
