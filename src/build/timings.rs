//! Where a build's time went: each step's wall time (as BuildKit's `DONE 2.3s`), and the
//! time spent materialising base layers into build roots, download included.

use serde::Serialize;

#[derive(Debug, Clone, Default, Serialize)]
pub struct Timings {
    /// Downloading and unpacking layers into build roots, summed over roots.
    pub unpack_seconds: f64,
    pub steps: Vec<StepTiming>,
}

#[derive(Debug, Clone, Serialize)]
pub struct StepTiming {
    pub platform: String,
    pub stage: String,
    pub line: usize,
    pub instruction: String,
    pub seconds: f64,
    /// A RUN whose layer came from the layer cache.
    pub cached: bool,
}

impl Timings {
    pub fn extend(&mut self, other: Timings) {
        self.unpack_seconds += other.unpack_seconds;
        self.steps.extend(other.steps);
    }
}
