//! Watchpost's device layer: cameras as managed devices.
//!
//! Vocabulary: a *camera* is a device at a *site* with one or more *stream profiles*
//! (main, sub); the inventory resolves a camera's profile to a stream URI for the media hub.
//! ONVIF (SOAP built and parsed without IO), discovery, PTZ and health checks live here.

pub mod discovery;
pub mod health;
pub mod inventory;
pub mod onvif;
pub mod onvif_camera;
pub mod service;
pub mod streams;

pub use service::{Devices, DevicesError, DevicesSettings};
