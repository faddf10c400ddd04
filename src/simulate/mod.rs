//! A built-in simulator of the slice of the Genesys Cloud Platform API that triage's rules
//! cover, so a support engineer can reproduce a customer's failure without a real org, and so
//! `triage demo` and the tests have something honest to talk to. One port serves both faces of
//! a region: the login routes (`/oauth/token`) and the API routes.
//!
//! Every answer uses the real shapes of shared/genesys/FACTS.md; where the real API's answer is
//! not verified (a send into a closed conversation, a bad client secret…) the simulator's choice
//! is documented in docs/simulator.md and, where it matters to rules, switchable by scenario.
//!
//! - [`scenario`]: the TOML world (strict), and the built-in default.
//! - [`state`]: the running world behind a mutex; calls change it (a disconnect disconnects).
//! - [`routes`]: request → response, no I/O.
//! - [`server`]: the hyper server, [`Simulator`] and [`SimHandle`].

pub mod routes;
pub mod scenario;
pub mod server;
pub mod state;

pub use scenario::{ClosedSend, Scenario};
pub use server::{SimHandle, Simulator};
