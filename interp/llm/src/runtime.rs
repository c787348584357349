//! Ready sessions from one configuration: the one place that wires the provider layer into the
//! evaluator, for the command line, the language server and the tests alike.

use omega_eval::Output;
use omega_eval::Session;

use crate::config::LlmConfig;
use crate::port::{PortEvent, ServicePort};
use crate::standin::{AnswerCounts, StandInPort};
use crate::{LlmError, LlmService};

/// The configured providers (HTTP client, cache, in-flight cap), made once and shared by every
/// session built from them. Cheap to clone.
#[derive(Clone)]
pub struct Runtime {
    service: LlmService,
}

impl Runtime {
    pub fn new(config: &LlmConfig) -> Result<Runtime, LlmError> {
        Ok(Runtime { service: LlmService::new(config)? })
    }

    pub fn service(&self) -> &LlmService {
        &self.service
    }

    /// A session with the built-ins and the prelude loaded, whose LLM calls go to these
    /// providers through a port of its own (its own call budget and requests in flight).
    pub fn session(&self, out: Box<dyn Output>) -> Session {
        Session::new(out, Box::new(ServicePort::new(self.service.session())))
    }

    /// As [`Runtime::session`], telling `observer` when each LLM call is sent and when it ends.
    pub fn observed_session(&self, out: Box<dyn Output>, observer: impl FnMut(PortEvent<'_>) + 'static) -> Session {
        let mut port = ServicePort::new(self.service.session());
        port.observe(observer);
        Session::new(out, Box::new(port))
    }

    /// A session that never spends money: cached or scripted answers, else stand-ins, in an
    /// order decided by `seed` (`omega explore`, and `omega run --stand-ins` to replay it).
    pub fn stand_in_session(&self, out: Box<dyn Output>, seed: u64) -> (Session, AnswerCounts) {
        let counts = AnswerCounts::default();
        let port = StandInPort::new(self.service.clone(), seed, counts.clone());
        (Session::new(out, Box::new(port)), counts)
    }
}
