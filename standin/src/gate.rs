//! The point every EKS and bucket request passes before it is handled: here
//! injected faults are applied.

use crate::conn::Connection;
use crate::faults::{Fault, Request};
use crate::{lock, Shared};

/// What to do with a request after the fault rules have had their say.
#[derive(Debug)]
pub enum Verdict {
    /// Handle it normally (possibly after an injected delay).
    Proceed,
    /// Answer with this error instead.
    Fail {
        /// HTTP status.
        status: u16,
        /// Error code.
        error_type: String,
        /// Message.
        message: String,
    },
    /// The connection was killed: whatever the handler returns is never sent.
    Reset,
    /// Handle it, then kill the connection, so the answer is never sent.
    ProceedThenReset,
}

/// Kills the connection after a [`Verdict::ProceedThenReset`] request was handled; without
/// one to kill (the router driven in-process) the caller's server error is the nearest thing.
pub fn reset(conn: Option<&Connection>) {
    if let Some(conn) = conn {
        conn.switch.kill();
    }
}

/// Applies the first matching fault rule to `request`.
pub async fn admit(shared: &Shared, request: Request<'_>, conn: Option<&Connection>) -> Verdict {
    // The guard is dropped at the end of this statement, before any await.
    let fault = lock(&shared.faults).take(request, &shared.ids);
    match fault {
        None | Some(Fault::ConflictAfterDelete(_)) => Verdict::Proceed,
        Some(Fault::Delay(delay)) => {
            tokio::time::sleep(delay).await;
            Verdict::Proceed
        }
        Some(Fault::Status {
            status,
            error_type,
            message,
        }) => Verdict::Fail {
            status,
            error_type,
            message,
        },
        Some(Fault::ResetAfterHandling) => Verdict::ProceedThenReset,
        Some(Fault::Reset) => match conn {
            Some(conn) => {
                conn.switch.kill();
                Verdict::Reset
            }
            // Without a connection to kill (only possible when the router is
            // driven in-process) a server error is the nearest thing.
            None => Verdict::Fail {
                status: 500,
                error_type: "ServerException".to_string(),
                message: "connection reset injected".to_string(),
            },
        },
    }
}
