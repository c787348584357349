//! PCT, probabilistic concurrency testing (Burckhardt et al., ASPLOS 2010): every task gets a
//! random priority, the highest-priority task that can run always runs, and at `d − 1` random
//! scheduling decisions out of the first `k` the running task drops to a priority below all
//! others. A bug that needs `d` ordering constraints is found with probability at least
//! `1 / (n · k^(d−1))` per run, for `n` tasks — a guarantee uniform random choice lacks.
//!
//! The strategy lives in the schedule seed, so `--schedule SEED` replays it exactly: a seed
//! with the top bit set is a PCT seed, laid out as `1 | d (7 bits) | k (16 bits) | random (40
//! bits)`; any other seed is the uniform random scheduler.

use crate::lock::TaskId;

/// The top bit of a PCT seed.
pub const PCT_FLAG: u64 = 1 << 63;

/// The seed that runs PCT with depth `d` over the first `k` decisions, from `random`.
pub fn pct_seed(depth: u32, k: u64, random: u64) -> u64 {
    PCT_FLAG | (u64::from(depth.min(127)) << 56) | (k.clamp(1, 0xFFFF) << 40) | (random & 0xFF_FFFF_FFFF)
}

pub(super) struct Pct {
    rng: u64,
    depth: u32,
    /// Decision numbers (1-based) at which the chosen task is demoted, with its new priority.
    change_points: Vec<(u64, u64)>,
    /// Priority by task id; `0` means not assigned yet.
    priorities: Vec<u64>,
    decisions: u64,
}

impl Pct {
    /// The PCT strategy a seed names, if it is a PCT seed.
    pub fn from_seed(seed: u64) -> Option<Pct> {
        if seed & PCT_FLAG == 0 {
            return None;
        }
        let depth = ((seed >> 56) & 0x7F).max(1) as u32;
        let k = ((seed >> 40) & 0xFFFF).max(1);
        let mut rng = seed & 0xFF_FFFF_FFFF;
        let change_points =
            (1..depth).map(|i| (1 + super::sched::splitmix64(&mut rng) % k, u64::from(depth - i))).collect();
        Some(Pct { rng, depth, change_points, priorities: Vec::new(), decisions: 0 })
    }

    /// A new evaluation starts: task ids are reused, so priorities are drawn afresh.
    pub fn restart(&mut self) {
        self.priorities.clear();
    }

    /// The task to run among `candidates` (in task order).
    pub fn pick(&mut self, candidates: &[TaskId]) -> TaskId {
        self.decisions += 1;
        for &t in candidates {
            let i = t as usize;
            if self.priorities.len() <= i {
                self.priorities.resize(i + 1, 0);
            }
            if self.priorities[i] == 0 {
                // Above every demoted priority (1 ..= depth − 1).
                self.priorities[i] = u64::from(self.depth) + super::sched::splitmix64(&mut self.rng) % (1 << 40);
            }
        }
        let best = |p: &[u64]| *candidates.iter().max_by_key(|&&t| (p[t as usize], std::cmp::Reverse(t))).unwrap();
        let chosen = best(&self.priorities);
        for &(at, low) in &self.change_points {
            if at == self.decisions {
                self.priorities[chosen as usize] = low;
                return best(&self.priorities);
            }
        }
        chosen
    }
}
