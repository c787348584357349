//! The LLM port of `omega explore`: answers that cost nothing and need no network — cached or
//! scripted ones, else a deterministic stand-in — delivered in an order the schedule seed
//! decides, so that calls finish in different orders under different schedules.
//!
//! Time is virtual: each request gets a pseudo-random delay from the seed, the prompt and its
//! number, and `next` hands out the pending answer with the smallest one at once.

use std::cell::Cell;
use std::rc::Rc;
use std::time::Duration;

use omega_eval::{LlmEvent, LlmPort, LlmReply, LlmWork};

use crate::adapter::RunCounters;
use crate::{LlmRequest, LlmService};

/// How the answers of one run were obtained.
#[derive(Clone, Default)]
pub struct AnswerCounts {
    pub free: Rc<Cell<u64>>,
    pub stand_ins: Rc<Cell<u64>>,
}

pub struct StandInPort {
    service: LlmService,
    seed: u64,
    /// (virtual finish time, request id, answer).
    pending: Vec<(u64, u64, LlmReply)>,
    counts: AnswerCounts,
    /// Scripted answers cycle within this run.
    run: RunCounters,
}

impl StandInPort {
    pub fn new(service: LlmService, seed: u64, counts: AnswerCounts) -> StandInPort {
        StandInPort { service, seed, pending: Vec::new(), counts, run: RunCounters::default() }
    }
}

/// The stand-in answer to a prompt: the same for the same prompt and sample, in every run.
pub fn stand_in_text(work: &LlmWork) -> String {
    format!("stand-in answer {:08x}", fnv1a(&work.prompt, work.sample) as u32)
}

fn fnv1a(text: &str, extra: u32) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in text.bytes().chain(extra.to_le_bytes()) {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}

fn mix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

impl LlmPort for StandInPort {
    fn submit(&mut self, id: u64, work: &LlmWork) {
        let req = LlmRequest::new(work.op, work.prompt.clone()).with_sample(work.sample);
        let reply = match self.service.free_answer(&req, &mut self.run) {
            Some(answer) => {
                self.counts.free.set(self.counts.free.get() + 1);
                LlmReply { trace: answer.meta.trace(), text: answer.text, confidence: answer.meta.confidence }
            }
            None => {
                self.counts.stand_ins.set(self.counts.stand_ins.get() + 1);
                LlmReply { text: stand_in_text(work), trace: "stand-in".into(), confidence: None }
            }
        };
        let delay = mix(self.seed ^ fnv1a(&work.prompt, work.sample) ^ mix(id)) % 1000;
        self.pending.push((delay, id, reply));
    }

    fn cancel(&mut self, id: u64) {
        self.pending.retain(|p| p.1 != id);
    }

    fn next(&mut self, _timeout: Option<Duration>) -> Option<LlmEvent> {
        let i = (0..self.pending.len()).min_by_key(|&i| (self.pending[i].0, self.pending[i].1))?;
        let (_, id, reply) = self.pending.remove(i);
        Some(LlmEvent { id, result: Ok(reply) })
    }
}
