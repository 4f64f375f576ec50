//! The one error type of the shell's commands, serialized for the UI as
//! `roost_model::app::IpcError` (`{kind, message}`): the UI matches on `kind`, never on text,
//! and shows `message`, which is the sentence for a person from `roost_model::human` (the
//! technical cause goes to the log). Messages must never carry the bearer token.

use roost_model::app::{IpcError, IpcErrorKind};
use roost_model::human;
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
    /// The first sign-in's check of the server and the token failed (its text is a sentence).
    #[error(transparent)]
    SignIn(roost_core::SignInError),
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
            ShellError::SignIn(error) => sign_in_error_kind(error),
        }
    }

    /// What a person reads: core errors become the sentence of their kind; sign-in errors,
    /// the shell's own input checks and internal failures already are sentences.
    pub fn to_ipc(&self) -> IpcError {
        let message = match self {
            ShellError::NotSignedIn => human::sentence("not_signed_in").to_string(),
            ShellError::Core(error) => {
                tracing::debug!(%error, kind = error.kind(), "command failed");
                human::error_sentence(error.kind(), error.server_kind()).to_string()
            }
            ShellError::SignIn(_) | ShellError::InvalidInput(_) | ShellError::Internal(_) => {
                self.to_string()
            }
        };
        IpcError {
            kind: self.kind(),
            message,
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
        E::CacheCorrupt(_) | E::Cache(_) | E::WrongAccount(_) | E::CacheInUse(_) => {
            IpcErrorKind::Cache
        }
        E::NotFound(_) => IpcErrorKind::NotFound,
        E::InvalidInput(_) => IpcErrorKind::InvalidInput,
        E::Shutdown => IpcErrorKind::Internal,
        // The sentence says why (`chat_left`); the UI disables what a left chat cannot do.
        E::Left(_) => IpcErrorKind::Forbidden,
    }
}

fn sign_in_error_kind(error: &roost_core::SignInError) -> IpcErrorKind {
    use roost_core::SignInError as E;
    match error {
        E::InvalidUrl { .. } => IpcErrorKind::InvalidInput,
        E::Unreachable { .. } => IpcErrorKind::Offline,
        E::TokenRefused => IpcErrorKind::Unauthorized,
        E::NotRoostServer { .. } | E::ProtocolVersion { .. } | E::ServerFailed { .. } => {
            IpcErrorKind::Server
        }
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
            serde_json::json!({"kind": "offline", "message": human::sentence("offline")})
        );
        let unauthorized = ShellError::Core(roost_core::Error::Server {
            status: 401,
            kind: ErrorKind::Unauthorized,
            message: "unknown token".into(),
        });
        assert_eq!(unauthorized.kind(), IpcErrorKind::Unauthorized);
        assert_eq!(unauthorized.to_ipc().message, human::TOKEN_REFUSED);
        assert_eq!(
            serde_json::to_value(ShellError::NotSignedIn).unwrap()["kind"],
            "not_signed_in"
        );
    }

    #[test]
    fn every_error_reaches_the_ui_as_a_sentence_without_protocol_words() {
        use roost_core::Error as E;
        let core = [
            E::Offline("error sending request: connection refused".into()),
            E::Server {
                status: 413,
                kind: ErrorKind::PayloadTooLarge,
                message: "body over 16384 bytes".into(),
            },
            E::Server {
                status: 418,
                kind: ErrorKind::Unknown,
                message: "HTTP 418 without an error body".into(),
            },
            E::ProtocolViolation("seq 0".into()),
            E::CacheCorrupt("malformed".into()),
            E::Cache("disk I/O error".into()),
            E::NotFound("chat".into()),
            E::InvalidInput("limit".into()),
            E::Shutdown,
            E::WrongAccount("belongs to alice".into()),
            E::CacheInUse("pid 7".into()),
            E::Left(roost_proto::ChatId(uuid::Uuid::nil())),
        ];
        for error in core {
            // Exhaustive on purpose: a new core error must get a sentence here.
            match &error {
                E::Offline(_)
                | E::Server { .. }
                | E::ProtocolViolation(_)
                | E::CacheCorrupt(_)
                | E::Cache(_)
                | E::NotFound(_)
                | E::InvalidInput(_)
                | E::Shutdown
                | E::WrongAccount(_)
                | E::CacheInUse(_)
                | E::Left(_) => {}
            }
            assert!(human::KINDS.contains(&error.kind()), "{}", error.kind());
            let ipc = ShellError::Core(error).to_ipc();
            assert_ne!(ipc.message, human::FALLBACK);
            for jargon in ["HTTP", "server error", "offline:", "_"] {
                assert!(!ipc.message.contains(jargon), "{:?}", ipc.message);
            }
        }
        let refused = ShellError::SignIn(roost_core::SignInError::TokenRefused).to_ipc();
        assert_eq!(refused.kind, IpcErrorKind::Unauthorized);
        assert_eq!(refused.message, human::TOKEN_REFUSED);
        let unreachable = ShellError::SignIn(roost_core::SignInError::Unreachable {
            url: "http://127.0.0.1:9".into(),
            reason: human::UnreachableReason::ConnectionRefused,
            detail: "tcp connect error".into(),
        })
        .to_ipc();
        assert_eq!(unreachable.kind, IpcErrorKind::Offline);
        assert!(
            unreachable
                .message
                .starts_with("Can't reach http://127.0.0.1:9: ")
        );
        assert_eq!(
            ShellError::NotSignedIn.to_ipc().message,
            human::sentence("not_signed_in")
        );
    }
}
