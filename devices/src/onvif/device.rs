//! The device service (`tds:`): clock, identity and where the other services are.
//!
//! Vocabulary: *XAddr* is a service's HTTP address as the camera reports it; the device
//! service's own XAddr is conventionally `http://<host>/onvif/device_service`.
//! `GetSystemDateAndTime` is the one operation cameras answer without authentication: ask
//! it first and derive the [`ClockOffset`](super::security::ClockOffset) from it.

use super::security::UtcDateTime;
use super::soap::expect_response;
use super::xml::Element;
use super::{OnvifError, Request, boolean, ns, number, optional_text, required, required_text};

const GET_SYSTEM_DATE_AND_TIME: &str = "GetSystemDateAndTime";
const GET_DEVICE_INFORMATION: &str = "GetDeviceInformation";
const GET_CAPABILITIES: &str = "GetCapabilities";
const GET_SERVICES: &str = "GetServices";

fn request(operation: &'static str, action: &'static str, inner: &str) -> Request {
    Request {
        operation,
        action,
        body: format!(
            r#"<tds:{operation} xmlns:tds="{}" xmlns:tt="{}">{inner}</tds:{operation}>"#,
            ns::DEVICE,
            ns::SCHEMA
        ),
    }
}

/// `GetSystemDateAndTime`: the camera's clock. Answered without authentication.
pub fn get_system_date_and_time() -> Request {
    request(
        GET_SYSTEM_DATE_AND_TIME,
        "http://www.onvif.org/ver10/device/wsdl/GetSystemDateAndTime",
        "",
    )
}

/// `GetDeviceInformation`: manufacturer, model, firmware, serial number, hardware id.
pub fn get_device_information() -> Request {
    request(
        GET_DEVICE_INFORMATION,
        "http://www.onvif.org/ver10/device/wsdl/GetDeviceInformation",
        "",
    )
}

/// `GetCapabilities` for category `All`: the service XAddrs of ONVIF 1.x devices.
pub fn get_capabilities() -> Request {
    request(
        GET_CAPABILITIES,
        "http://www.onvif.org/ver10/device/wsdl/GetCapabilities",
        "<tds:Category>All</tds:Category>",
    )
}

/// `GetServices` without capabilities: every service's namespace and XAddr (ONVIF 2.x;
/// the only way to find Media2).
pub fn get_services() -> Request {
    request(
        GET_SERVICES,
        "http://www.onvif.org/ver10/device/wsdl/GetServices",
        "<tds:IncludeCapability>false</tds:IncludeCapability>",
    )
}

/// The camera's clock as `GetSystemDateAndTime` reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SystemDateAndTime {
    /// The UTC time; always valid ([`UtcDateTime::is_valid`]).
    pub utc: UtcDateTime,
    /// Whether the camera sets its clock by NTP (`DateTimeType` = `NTP`).
    pub ntp: bool,
    /// Whether daylight saving time is in effect.
    pub daylight_savings: bool,
    /// The POSIX TZ string (`CST-8`), when reported.
    pub time_zone: Option<String>,
}

/// Parses a `GetSystemDateAndTimeResponse`. A camera that reports only its local time is
/// an error (`Missing UTCDateTime`): the offset cannot be derived from it.
pub fn parse_system_date_and_time(text: &str) -> Result<SystemDateAndTime, OnvifError> {
    const OP: &str = GET_SYSTEM_DATE_AND_TIME;
    let response = expect_response(text, OP, ns::DEVICE, "GetSystemDateAndTimeResponse")?;
    let sdt = required(
        &response,
        ns::DEVICE,
        "SystemDateAndTime",
        OP,
        "SystemDateAndTime",
    )?;
    let utc = required(
        sdt,
        ns::SCHEMA,
        "UTCDateTime",
        OP,
        "SystemDateAndTime/UTCDateTime",
    )?;
    let date = required(utc, ns::SCHEMA, "Date", OP, "UTCDateTime/Date")?;
    let time = required(utc, ns::SCHEMA, "Time", OP, "UTCDateTime/Time")?;
    let field = |parent: &Element, local: &str, path: &'static str| -> Result<String, OnvifError> {
        required_text(parent, ns::SCHEMA, local, OP, path)
    };
    let utc = UtcDateTime {
        year: number(&field(date, "Year", "Date/Year")?, OP, "Date/Year")?,
        month: number(&field(date, "Month", "Date/Month")?, OP, "Date/Month")?,
        day: number(&field(date, "Day", "Date/Day")?, OP, "Date/Day")?,
        hour: number(&field(time, "Hour", "Time/Hour")?, OP, "Time/Hour")?,
        minute: number(&field(time, "Minute", "Time/Minute")?, OP, "Time/Minute")?,
        second: number(&field(time, "Second", "Time/Second")?, OP, "Time/Second")?,
    };
    if !utc.is_valid() {
        return Err(OnvifError::invalid(
            OP,
            "UTCDateTime",
            &format!("{utc:?}"),
            "a valid calendar time",
        ));
    }
    let daylight_savings = match sdt.child_text(ns::SCHEMA, "DaylightSavings") {
        Some(text) => boolean(text, OP, "DaylightSavings")?,
        None => false,
    };
    Ok(SystemDateAndTime {
        utc,
        ntp: sdt.child_text(ns::SCHEMA, "DateTimeType") == Some("NTP"),
        daylight_savings,
        time_zone: sdt
            .child(ns::SCHEMA, "TimeZone")
            .and_then(|tz| optional_text(tz, ns::SCHEMA, "TZ")),
    })
}

/// What `GetDeviceInformation` reports. Manufacturer and model are required; the other
/// fields are empty when a camera leaves them out.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DeviceInformation {
    /// Manufacturer (`HIKVISION`, `Dahua`, `AXIS`).
    pub manufacturer: String,
    /// Model name.
    pub model: String,
    /// Firmware version, free-form.
    pub firmware_version: String,
    /// Serial number.
    pub serial_number: String,
    /// Hardware id, free-form.
    pub hardware_id: String,
}

/// Parses a `GetDeviceInformationResponse`.
pub fn parse_device_information(text: &str) -> Result<DeviceInformation, OnvifError> {
    const OP: &str = GET_DEVICE_INFORMATION;
    let r = expect_response(text, OP, ns::DEVICE, "GetDeviceInformationResponse")?;
    let optional = |local| optional_text(&r, ns::DEVICE, local).unwrap_or_default();
    Ok(DeviceInformation {
        manufacturer: required_text(&r, ns::DEVICE, "Manufacturer", OP, "Manufacturer")?,
        model: required_text(&r, ns::DEVICE, "Model", OP, "Model")?,
        firmware_version: optional("FirmwareVersion"),
        serial_number: optional("SerialNumber"),
        hardware_id: optional("HardwareId"),
    })
}

/// The XAddrs of the services Watchpost uses; `None` for a service the camera lacks.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ServiceAddresses {
    /// Device service.
    pub device: Option<String>,
    /// Media (ONVIF Profile S).
    pub media: Option<String>,
    /// Media2 (ONVIF Profile T; H.265). Only `GetServices` reports it.
    pub media2: Option<String>,
    /// PTZ.
    pub ptz: Option<String>,
    /// Events.
    pub events: Option<String>,
    /// Imaging.
    pub imaging: Option<String>,
}

/// Parses a `GetCapabilitiesResponse` (`tt:Capabilities/tt:<Service>/tt:XAddr`).
pub fn parse_capabilities(text: &str) -> Result<ServiceAddresses, OnvifError> {
    const OP: &str = GET_CAPABILITIES;
    let r = expect_response(text, OP, ns::DEVICE, "GetCapabilitiesResponse")?;
    let caps = required(&r, ns::DEVICE, "Capabilities", OP, "Capabilities")?;
    let xaddr = |local| {
        caps.child(ns::SCHEMA, local)
            .and_then(|c| optional_text(c, ns::SCHEMA, "XAddr"))
    };
    Ok(ServiceAddresses {
        device: xaddr("Device"),
        media: xaddr("Media"),
        media2: None,
        ptz: xaddr("PTZ"),
        events: xaddr("Events"),
        imaging: xaddr("Imaging"),
    })
}

/// Parses a `GetServicesResponse` (`tds:Service/tds:Namespace` + `tds:XAddr`); services
/// Watchpost does not use are skipped, the first entry per namespace wins.
pub fn parse_services(text: &str) -> Result<ServiceAddresses, OnvifError> {
    const OP: &str = GET_SERVICES;
    let r = expect_response(text, OP, ns::DEVICE, "GetServicesResponse")?;
    let mut out = ServiceAddresses::default();
    for service in r.children_named(ns::DEVICE, "Service") {
        let namespace = required_text(service, ns::DEVICE, "Namespace", OP, "Service/Namespace")?;
        let xaddr = required_text(service, ns::DEVICE, "XAddr", OP, "Service/XAddr")?;
        let slot = match namespace.as_str() {
            ns::DEVICE => &mut out.device,
            ns::MEDIA => &mut out.media,
            ns::MEDIA2 => &mut out.media2,
            ns::PTZ => &mut out.ptz,
            ns::EVENTS => &mut out.events,
            ns::IMAGING => &mut out.imaging,
            _ => continue,
        };
        slot.get_or_insert(xaddr);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::onvif::soap::envelope;

    #[test]
    fn requests_are_wellformed_and_namespaced() {
        for request in [
            get_system_date_and_time(),
            get_device_information(),
            get_capabilities(),
            get_services(),
        ] {
            let (namespace, local) =
                crate::onvif::soap::response_name(&envelope(&request.body, None), "t").unwrap();
            assert_eq!(namespace.as_deref(), Some(ns::DEVICE));
            assert_eq!(local, request.operation);
            assert!(request.action.ends_with(request.operation));
        }
    }

    #[test]
    fn invalid_dates_are_refused_with_context() {
        let doc = r#"<e:Envelope xmlns:e="http://www.w3.org/2003/05/soap-envelope" xmlns:d="http://www.onvif.org/ver10/device/wsdl" xmlns:t="http://www.onvif.org/ver10/schema"><e:Body><d:GetSystemDateAndTimeResponse><d:SystemDateAndTime>
          <t:UTCDateTime><t:Time><t:Hour>25</t:Hour><t:Minute>0</t:Minute><t:Second>0</t:Second></t:Time><t:Date><t:Year>2026</t:Year><t:Month>2</t:Month><t:Day>30</t:Day></t:Date></t:UTCDateTime>
          </d:SystemDateAndTime></d:GetSystemDateAndTimeResponse></e:Body></e:Envelope>"#;
        let err = parse_system_date_and_time(doc).unwrap_err();
        assert!(
            matches!(
                err,
                OnvifError::Invalid {
                    element: "UTCDateTime",
                    ..
                }
            ),
            "{err}"
        );
        let doc = doc.replace("<t:Hour>25</t:Hour>", "<t:Hour>x</t:Hour>");
        let err = parse_system_date_and_time(&doc).unwrap_err();
        assert_eq!(
            err.to_string(),
            "GetSystemDateAndTime: Time/Hour = \"x\" is not a number in range"
        );
    }
}
