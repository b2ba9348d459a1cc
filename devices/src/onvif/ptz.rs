//! The PTZ service (`tptz:`): moves and presets of a media profile.
//!
//! Vocabulary: values are in ONVIF's *generic spaces* — pan and tilt in `-1..=1`
//! (positions: the full range; velocities: full speed left/down to right/up), zoom in
//! `0..=1` for positions and speeds and `-1..=1` for velocities and relative moves. A
//! *continuous move* runs until `Stop` or its timeout; a *preset* is a stored position
//! named by its token. Builders refuse non-finite or out-of-range values
//! ([`OnvifError::Invalid`]); the operation that failed is named in the error.

use std::time::Duration;

use super::soap::expect_response;
use super::xml::escape;
use super::{OnvifError, Request, ns, number, required_attr, required_text};

/// Pan, tilt and zoom values; `None` leaves that axis out of the request (untouched).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct PtzVector {
    /// Pan and tilt, `(pan, tilt)`.
    pub pan_tilt: Option<(f32, f32)>,
    /// Zoom.
    pub zoom: Option<f32>,
}

/// A stored PTZ position.
#[derive(Debug, Clone, PartialEq)]
pub struct Preset {
    /// The preset token (non-empty), for [`goto_preset`].
    pub token: String,
    /// The display name (may be empty).
    pub name: String,
    /// The stored position, when the camera reports it.
    pub position: Option<PtzVector>,
}

fn request(operation: &'static str, action: &'static str, inner: &str) -> Request {
    Request {
        operation,
        action,
        body: format!(
            r#"<tptz:{operation} xmlns:tptz="{}" xmlns:tt="{}">{inner}</tptz:{operation}>"#,
            ns::PTZ,
            ns::SCHEMA
        ),
    }
}

fn profile(token: &str) -> String {
    format!("<tptz:ProfileToken>{}</tptz:ProfileToken>", escape(token))
}

/// `<tptz:{element}>` with the vector's axes, checking ranges.
fn vector(
    op: &'static str,
    element: &'static str,
    v: PtzVector,
    pan_tilt_range: (f32, f32),
    zoom_range: (f32, f32),
) -> Result<String, OnvifError> {
    let check = |value: f32, range: (f32, f32), what: &'static str| {
        if value.is_finite() && value >= range.0 && value <= range.1 {
            Ok(value)
        } else {
            Err(OnvifError::invalid(
                op,
                what,
                &value.to_string(),
                "a finite number in the generic space's range",
            ))
        }
    };
    let mut out = format!("<tptz:{element}>");
    if let Some((pan, tilt)) = v.pan_tilt {
        let pan = check(pan, pan_tilt_range, "pan")?;
        let tilt = check(tilt, pan_tilt_range, "tilt")?;
        out.push_str(&format!(r#"<tt:PanTilt x="{pan}" y="{tilt}"/>"#));
    }
    if let Some(zoom) = v.zoom {
        let zoom = check(zoom, zoom_range, "zoom")?;
        out.push_str(&format!(r#"<tt:Zoom x="{zoom}"/>"#));
    }
    out.push_str(&format!("</tptz:{element}>"));
    Ok(out)
}

const FULL: (f32, f32) = (-1.0, 1.0);
const UNIT: (f32, f32) = (0.0, 1.0);

/// `xs:duration` of `d`, millisecond precision: `PT1.5S`.
fn xs_duration(d: Duration) -> String {
    let millis = d.as_millis();
    if millis.is_multiple_of(1000) {
        format!("PT{}S", millis / 1000)
    } else {
        format!("PT{}.{:03}S", millis / 1000, millis % 1000)
    }
}

/// `ContinuousMove` of `profile_token` at `velocity` (all axes `-1..=1`), stopping after
/// `timeout` if given (else when the camera's default timeout ends, or at [`stop`]).
pub fn continuous_move(
    profile_token: &str,
    velocity: PtzVector,
    timeout: Option<Duration>,
) -> Result<Request, OnvifError> {
    const OP: &str = "ContinuousMove";
    let mut inner = profile(profile_token);
    inner.push_str(&vector(OP, "Velocity", velocity, FULL, FULL)?);
    if let Some(timeout) = timeout {
        inner.push_str(&format!(
            "<tptz:Timeout>{}</tptz:Timeout>",
            xs_duration(timeout)
        ));
    }
    Ok(request(
        OP,
        "http://www.onvif.org/ver20/ptz/wsdl/ContinuousMove",
        &inner,
    ))
}

/// `Stop` of pan/tilt and/or zoom.
pub fn stop(profile_token: &str, pan_tilt: bool, zoom: bool) -> Request {
    request(
        "Stop",
        "http://www.onvif.org/ver20/ptz/wsdl/Stop",
        &format!(
            "{}<tptz:PanTilt>{pan_tilt}</tptz:PanTilt><tptz:Zoom>{zoom}</tptz:Zoom>",
            profile(profile_token)
        ),
    )
}

/// `RelativeMove` by `translation` (all axes `-1..=1`), at `speed` (pan/tilt `-1..=1`,
/// zoom `0..=1`) or the camera's default.
pub fn relative_move(
    profile_token: &str,
    translation: PtzVector,
    speed: Option<PtzVector>,
) -> Result<Request, OnvifError> {
    const OP: &str = "RelativeMove";
    let mut inner = profile(profile_token);
    inner.push_str(&vector(OP, "Translation", translation, FULL, FULL)?);
    if let Some(speed) = speed {
        inner.push_str(&vector(OP, "Speed", speed, FULL, UNIT)?);
    }
    Ok(request(
        OP,
        "http://www.onvif.org/ver20/ptz/wsdl/RelativeMove",
        &inner,
    ))
}

/// `AbsoluteMove` to `position` (pan/tilt `-1..=1`, zoom `0..=1`), at `speed` or the
/// camera's default.
pub fn absolute_move(
    profile_token: &str,
    position: PtzVector,
    speed: Option<PtzVector>,
) -> Result<Request, OnvifError> {
    const OP: &str = "AbsoluteMove";
    let mut inner = profile(profile_token);
    inner.push_str(&vector(OP, "Position", position, FULL, UNIT)?);
    if let Some(speed) = speed {
        inner.push_str(&vector(OP, "Speed", speed, FULL, UNIT)?);
    }
    Ok(request(
        OP,
        "http://www.onvif.org/ver20/ptz/wsdl/AbsoluteMove",
        &inner,
    ))
}

/// `GetPresets` of a profile.
pub fn get_presets(profile_token: &str) -> Request {
    request(
        "GetPresets",
        "http://www.onvif.org/ver20/ptz/wsdl/GetPresets",
        &profile(profile_token),
    )
}

/// `GotoPreset`, at `speed` or the camera's default.
pub fn goto_preset(
    profile_token: &str,
    preset_token: &str,
    speed: Option<PtzVector>,
) -> Result<Request, OnvifError> {
    const OP: &str = "GotoPreset";
    let mut inner = profile(profile_token);
    inner.push_str(&format!(
        "<tptz:PresetToken>{}</tptz:PresetToken>",
        escape(preset_token)
    ));
    if let Some(speed) = speed {
        inner.push_str(&vector(OP, "Speed", speed, FULL, UNIT)?);
    }
    Ok(request(
        OP,
        "http://www.onvif.org/ver20/ptz/wsdl/GotoPreset",
        &inner,
    ))
}

/// `SetPreset`: stores the current position as a new preset named `name`, or overwrites
/// `existing_token`. The answer ([`parse_set_preset`]) is the preset's token.
pub fn set_preset(
    profile_token: &str,
    name: Option<&str>,
    existing_token: Option<&str>,
) -> Request {
    let mut inner = profile(profile_token);
    if let Some(name) = name {
        inner.push_str(&format!(
            "<tptz:PresetName>{}</tptz:PresetName>",
            escape(name)
        ));
    }
    if let Some(token) = existing_token {
        inner.push_str(&format!(
            "<tptz:PresetToken>{}</tptz:PresetToken>",
            escape(token)
        ));
    }
    request(
        "SetPreset",
        "http://www.onvif.org/ver20/ptz/wsdl/SetPreset",
        &inner,
    )
}

/// Parses a `GetPresetsResponse`, in document order.
pub fn parse_presets(text: &str) -> Result<Vec<Preset>, OnvifError> {
    const OP: &str = "GetPresets";
    let r = expect_response(text, OP, ns::PTZ, "GetPresetsResponse")?;
    let mut presets = Vec::new();
    for preset in r.children_named(ns::PTZ, "Preset") {
        let token = required_attr(preset, "token", OP, "Preset/@token")?;
        let position = preset
            .child(ns::SCHEMA, "PTZPosition")
            .map(|p| position(p, OP))
            .transpose()?;
        presets.push(Preset {
            token,
            name: preset
                .child_text(ns::SCHEMA, "Name")
                .unwrap_or_default()
                .to_owned(),
            position,
        });
    }
    Ok(presets)
}

/// A `tt:PTZVector` element (`PanTilt/@x,@y`, `Zoom/@x`) as a [`PtzVector`]; an axis the
/// camera leaves out is `None`.
fn position(p: &super::xml::Element, op: &'static str) -> Result<PtzVector, OnvifError> {
    let axis = |local: &str, attr: &str, path: &'static str| {
        p.child(ns::SCHEMA, local)
            .and_then(|e| e.attr(attr))
            .map(|v| number::<f32>(v, op, path))
            .transpose()
    };
    let pan = axis("PanTilt", "x", "Position/PanTilt/@x")?;
    let tilt = axis("PanTilt", "y", "Position/PanTilt/@y")?;
    Ok(PtzVector {
        pan_tilt: pan.zip(tilt),
        zoom: axis("Zoom", "x", "Position/Zoom/@x")?,
    })
}

/// `GetStatus`: the profile's current position and whether it is moving.
pub fn get_status(profile_token: &str) -> Request {
    request(
        "GetStatus",
        "http://www.onvif.org/ver20/ptz/wsdl/GetStatus",
        &profile(profile_token),
    )
}

/// A PTZ unit's state as `GetStatus` reports it.
#[derive(Debug, Clone, PartialEq)]
pub struct PtzStatus {
    /// The current position in the generic spaces, when the camera reports it (some
    /// report only the move status).
    pub position: Option<PtzVector>,
    /// `MoveStatus/PanTilt` or `MoveStatus/Zoom` is `MOVING`.
    pub moving: bool,
}

/// Parses a `GetStatusResponse` (`tptz:PTZStatus/tt:Position`, `tt:MoveStatus`).
pub fn parse_status(text: &str) -> Result<PtzStatus, OnvifError> {
    const OP: &str = "GetStatus";
    let r = expect_response(text, OP, ns::PTZ, "GetStatusResponse")?;
    let status = super::required(&r, ns::PTZ, "PTZStatus", OP, "PTZStatus")?;
    let position = status
        .child(ns::SCHEMA, "Position")
        .map(|p| position(p, OP))
        .transpose()?;
    let moving = status.child(ns::SCHEMA, "MoveStatus").is_some_and(|m| {
        ["PanTilt", "Zoom"].iter().any(|axis| {
            m.child_text(ns::SCHEMA, axis)
                .is_some_and(|t| t.trim().eq_ignore_ascii_case("MOVING"))
        })
    });
    Ok(PtzStatus { position, moving })
}

/// Parses a `SetPresetResponse`: the preset's token.
pub fn parse_set_preset(text: &str) -> Result<String, OnvifError> {
    const OP: &str = "SetPreset";
    let r = expect_response(text, OP, ns::PTZ, "SetPresetResponse")?;
    required_text(&r, ns::PTZ, "PresetToken", OP, "PresetToken")
}

/// Checks the empty answer of a move, `Stop` or `GotoPreset`: `Ok` when the body holds
/// `{tptz}<operation>Response`, the fault otherwise. `operation` is [`Request::operation`].
pub fn parse_ack(operation: &'static str, text: &str) -> Result<(), OnvifError> {
    let expected = match operation {
        "ContinuousMove" => "ContinuousMoveResponse",
        "Stop" => "StopResponse",
        "RelativeMove" => "RelativeMoveResponse",
        "AbsoluteMove" => "AbsoluteMoveResponse",
        "GotoPreset" => "GotoPresetResponse",
        "RemovePreset" => "RemovePresetResponse",
        _ => {
            return Err(OnvifError::invalid(
                operation,
                "operation",
                operation,
                "a PTZ operation with an empty answer",
            ));
        }
    };
    expect_response(text, operation, ns::PTZ, expected).map(|_| ())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::onvif::soap::{envelope, response_name};

    #[test]
    fn builders_produce_namespaced_bodies() {
        let v = PtzVector {
            pan_tilt: Some((0.5, -0.25)),
            zoom: Some(0.0),
        };
        let requests = [
            continuous_move("p", v, Some(Duration::from_millis(1500))).unwrap(),
            stop("p", true, false),
            relative_move("p", v, None).unwrap(),
            absolute_move(
                "p",
                PtzVector {
                    zoom: Some(1.0),
                    ..v
                },
                Some(v),
            )
            .unwrap(),
            get_presets("p"),
            goto_preset("p", "3", None).unwrap(),
            set_preset("p", Some("Gate & pumps"), None),
        ];
        for request in requests {
            let (namespace, local) = response_name(&envelope(&request.body, None), "t").unwrap();
            assert_eq!(
                (namespace.as_deref(), local.as_str()),
                (Some(ns::PTZ), request.operation)
            );
            assert!(request.action.ends_with(request.operation));
        }
        let body = continuous_move("p", v, Some(Duration::from_millis(1500)))
            .unwrap()
            .body;
        assert!(
            body.contains(r#"<tt:PanTilt x="0.5" y="-0.25"/><tt:Zoom x="0"/>"#),
            "{body}"
        );
        assert!(body.contains("<tptz:Timeout>PT1.500S</tptz:Timeout>"));
        assert_eq!(xs_duration(Duration::from_secs(5)), "PT5S");
    }

    #[test]
    fn out_of_range_values_are_refused() {
        let bad = PtzVector {
            pan_tilt: Some((f32::NAN, 0.0)),
            zoom: None,
        };
        let err = continuous_move("p", bad, None).unwrap_err();
        assert!(matches!(
            err,
            OnvifError::Invalid {
                operation: "ContinuousMove",
                element: "pan",
                ..
            }
        ));
        let negative_zoom = PtzVector {
            pan_tilt: None,
            zoom: Some(-0.5),
        };
        assert!(absolute_move("p", negative_zoom, None).is_err());
        assert!(relative_move("p", negative_zoom, None).is_ok());
    }

    #[test]
    fn ack_checks_the_response_element() {
        let ok = format!(
            r#"<e:Envelope xmlns:e="{}"><e:Body><StopResponse xmlns="{}"/></e:Body></e:Envelope>"#,
            ns::SOAP12,
            ns::PTZ
        );
        parse_ack("Stop", &ok).unwrap();
        assert!(matches!(
            parse_ack("GotoPreset", &ok),
            Err(OnvifError::UnexpectedResponse { .. })
        ));
        assert!(parse_ack("Bogus", &ok).is_err());
    }
}
