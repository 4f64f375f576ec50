//! The one error type of the shell's commands, serialized for the UI as
//! `roost_model::app::IpcError` (`{kind, message}`): the UI matches on `kind`, never on text.
//! Messages must never carry the bearer token.

use roost_model::app::{IpcError, IpcErrorKind};
use roost_proto::ErrorKind;
use serde::{Serialize, Serializer};

#[derive(Debug, thiserror::Error)]
pub enum ShellError {
    #[error("not signed in: enter a server URL and a token")]
    NotSignedIn,
    #[error("{0}")]
    InvalidInput(String),
    #[error(transparent)]
    Core(#[from] roost_core::Error),
    #[error("{0}")]
    Internal(String),
}

impl ShellError {
    pub fn kind(&self) -> IpcErrorKind {
        match self {
            ShellError::NotSignedIn => IpcErrorKind::NotSignedIn,
            ShellError::InvalidInput(_) => IpcErrorKind::InvalidInput,
            ShellError::Internal(_) => IpcErrorKind::Internal,
            ShellError::Core(error) => core_error_kind(error),
        }
    }

    pub fn to_ipc(&self) -> IpcError {
        IpcError {
            kind: self.kind(),
            message: self.to_string(),
        }
    }
}

fn core_error_kind(error: &roost_core::Error) -> IpcErrorKind {
    use roost_core::Error as E;
    match error {
        E::Offline(_) => IpcErrorKind::Offline,
        E::Server {
            kind: ErrorKind::Unauthorized,
            ..
        } => IpcErrorKind::Unauthorized,
        E::Server {
            kind: ErrorKind::NotFound,
            ..
        } => IpcErrorKind::NotFound,
        E::Server {
            kind: ErrorKind::Forbidden | ErrorKind::VersionConflict,
            ..
        } => IpcErrorKind::Forbidden,
        E::Server { .. } | E::ProtocolViolation(_) => IpcErrorKind::Server,
        E::CacheCorrupt(_) | E::Cache(_) => IpcErrorKind::Cache,
        E::NotFound(_) => IpcErrorKind::NotFound,
        E::InvalidInput(_) => IpcErrorKind::InvalidInput,
        E::Shutdown => IpcErrorKind::Internal,
    }
}

impl Serialize for ShellError {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.to_ipc().serialize(serializer)
    }
}

pub type ShellResult<T> = Result<T, ShellError>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serializes_as_kind_and_message() {
        let offline = ShellError::Core(roost_core::Error::Offline("connection refused".into()));
        assert_eq!(
            serde_json::to_value(&offline).unwrap(),
            serde_json::json!({"kind": "offline", "message": "offline: connection refused"})
        );
        let unauthorized = ShellError::Core(roost_core::Error::Server {
            status: 401,
            kind: ErrorKind::Unauthorized,
            message: "unknown token".into(),
        });
        assert_eq!(unauthorized.kind(), IpcErrorKind::Unauthorized);
        assert_eq!(
            serde_json::to_value(ShellError::NotSignedIn).unwrap()["kind"],
            "not_signed_in"
        );
    }
}
