//! Connects the machine's [`LlmPort`] to an [`LlmSession`] of the provider layer, and keeps
//! each finished call's metadata for whoever shows results (the language server).

use std::collections::HashMap;
use std::time::{Duration, Instant};

use crate::{AnswerMeta, LlmRequest, LlmSession, TicketId};
use omega_eval::{LlmEvent, LlmPort, LlmReply, LlmWork};

/// A finished call, as a record for observers.
#[derive(Clone, Debug)]
pub struct CallRecord {
    pub work: LlmWork,
    pub result: Result<AnswerMeta, String>,
    pub text: Option<String>,
}

pub struct ServicePort {
    session: LlmSession,
    tickets: HashMap<TicketId, (u64, LlmWork)>,
    ids: HashMap<u64, TicketId>,
    /// Called when a request is sent and when it finishes.
    observer: Option<Observer>,
}

type Observer = Box<dyn FnMut(PortEvent<'_>)>;

/// What a [`ServicePort`] tells its observer.
pub enum PortEvent<'a> {
    Sent(&'a LlmWork),
    Finished(&'a CallRecord),
    Cancelled(&'a LlmWork),
}

impl ServicePort {
    pub fn new(session: LlmSession) -> ServicePort {
        ServicePort { session, tickets: HashMap::new(), ids: HashMap::new(), observer: None }
    }

    pub fn observe(&mut self, f: impl FnMut(PortEvent<'_>) + 'static) {
        self.observer = Some(Box::new(f));
    }

    pub fn session(&mut self) -> &mut LlmSession {
        &mut self.session
    }

    fn finish(&mut self, c: crate::Completion) -> Option<LlmEvent> {
        let (id, work) = self.tickets.remove(&c.ticket)?;
        self.ids.remove(&id);
        let (result, record) = match c.result {
            Ok(answer) => {
                let reply = LlmReply {
                    text: answer.text.clone(),
                    trace: answer.meta.trace(),
                    confidence: answer.meta.confidence,
                };
                let record = CallRecord { work, result: Ok(answer.meta), text: Some(answer.text) };
                (Ok(reply), record)
            }
            Err(e) => {
                let record = CallRecord { work, result: Err(e.message.clone()), text: None };
                (Err(e.message), record)
            }
        };
        if let Some(obs) = &mut self.observer {
            obs(PortEvent::Finished(&record));
        }
        Some(LlmEvent { id, result })
    }
}

impl LlmPort for ServicePort {
    fn start_run(&mut self) {
        self.session.start_run();
    }

    fn submit(&mut self, id: u64, work: &LlmWork) {
        if let Some(obs) = &mut self.observer {
            obs(PortEvent::Sent(work));
        }
        let ticket = self.session.submit(LlmRequest::new(work.op, work.prompt.clone()).with_sample(work.sample));
        self.tickets.insert(ticket, (id, work.clone()));
        self.ids.insert(id, ticket);
    }

    fn cancel(&mut self, id: u64) {
        if let Some(ticket) = self.ids.remove(&id) {
            self.session.cancel(ticket);
            if let Some((_, work)) = self.tickets.remove(&ticket) {
                if let Some(obs) = &mut self.observer {
                    obs(PortEvent::Cancelled(&work));
                }
            }
        }
    }

    fn next(&mut self, timeout: Option<Duration>) -> Option<LlmEvent> {
        loop {
            let c = match timeout {
                Some(t) if t.is_zero() => self.session.try_next()?,
                Some(t) => self.session.wait_next(Some(Instant::now() + t))?,
                None => self.session.wait_next(None)?,
            };
            if let Some(ev) = self.finish(c) {
                return Some(ev);
            }
        }
    }
}
