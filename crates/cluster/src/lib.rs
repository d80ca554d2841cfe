//! Stories and threads. `features` turns an article into weighted terms and names; `engine`
//! clusters batches of them into stories online and links stories into threads; `state` encodes
//! a story's state for the store.

pub mod engine;
pub mod features;
pub mod state;

pub use engine::{Assignment, BatchOutcome, CopyOf, Engine, Input, Params, Reopened, StoryState};
pub use features::{profile, Profile};
