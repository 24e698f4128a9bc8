//! The client side of a telnet / RFC 2217 (COM-PORT-OPTION) console, as console servers such
//! as ser2net (`telnet(rfc2217)` accepters, labgrid's exporter) speak it.
//!
//! Pure state machines without I/O: [`Decoder`] splits a received byte stream (fed in arbitrary
//! pieces) into console data and telnet commands; [`Telnet`] negotiates the options (BINARY and
//! SUPPRESS-GO-AHEAD both ways, COM-PORT-OPTION from us), refuses every other option, sets the
//! line to 115200 8N1 without flow control once the server accepts COM-PORT-OPTION, and
//! escapes outgoing data (0xFF as IAC IAC).

/// Interpret As Command.
pub const IAC: u8 = 255;
/// Refuse / ask the peer not to do an option.
pub const DONT: u8 = 254;
/// Ask the peer to do an option.
pub const DO: u8 = 253;
/// Refuse to do an option.
pub const WONT: u8 = 252;
/// Offer to do an option.
pub const WILL: u8 = 251;
/// Subnegotiation begin.
pub const SB: u8 = 250;
/// Subnegotiation end.
pub const SE: u8 = 240;
/// No operation.
pub const NOP: u8 = 241;

/// Option: binary transmission (RFC 856).
pub const BINARY: u8 = 0;
/// Option: echo (RFC 857); refused.
pub const ECHO: u8 = 1;
/// Option: suppress go-ahead (RFC 858).
pub const SGA: u8 = 3;
/// Option: COM-PORT-OPTION (RFC 2217).
pub const COM_PORT: u8 = 44;

/// RFC 2217 client-to-server commands (the server answers with the code + 100).
pub mod cpo {
    /// Signature (text; empty from the server: a request for ours).
    pub const SIGNATURE: u8 = 0;
    /// Baud rate, 4 bytes big-endian.
    pub const SET_BAUDRATE: u8 = 1;
    /// Data bits.
    pub const SET_DATASIZE: u8 = 2;
    /// Parity (1 = none).
    pub const SET_PARITY: u8 = 3;
    /// Stop bits (1 = one).
    pub const SET_STOPSIZE: u8 = 4;
    /// Flow control and lines (1 = no flow control).
    pub const SET_CONTROL: u8 = 5;
    /// Offset of the server's answers.
    pub const SERVER: u8 = 100;
}

/// The line settings sent to the server.
pub const BAUD: u32 = 115_200;

/// Something a [`Decoder`] found in the stream besides data.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Event {
    /// IAC WILL/WONT/DO/DONT option.
    Command(u8, u8),
    /// IAC SB option body... IAC SE (body unescaped).
    Sub(u8, Vec<u8>),
    /// Any other IAC command (NOP, GA, AYT, a stray SE, ...).
    Other(u8),
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
enum DState {
    #[default]
    Data,
    Iac,
    Verb(u8),
    Sub,
    SubIac,
}

/// Longest subnegotiation kept (longer ones are truncated, still consumed up to IAC SE).
const MAX_SUB: usize = 4096;

/// Splits received bytes into data and telnet commands; sequences may be cut anywhere between
/// two `feed` calls.
#[derive(Clone, Debug, Default)]
pub struct Decoder {
    state: DState,
    sub: Vec<u8>,
    /// The server sends in binary mode: CR NUL is not collapsed to CR.
    pub binary: bool,
    last_cr: bool,
}

impl Decoder {
    /// Feeds received bytes: console data is appended to `data`, commands to `events`.
    pub fn feed(&mut self, input: &[u8], data: &mut Vec<u8>, events: &mut Vec<Event>) {
        for &b in input {
            self.step(b, data, events);
        }
    }

    fn push_data(&mut self, b: u8, data: &mut Vec<u8>) {
        // NVT (non-binary): CR is sent as CR NUL; the NUL is not data.
        if !self.binary && self.last_cr && b == 0 {
            self.last_cr = false;
            return;
        }
        self.last_cr = b == b'\r';
        data.push(b);
    }

    fn step(&mut self, b: u8, data: &mut Vec<u8>, events: &mut Vec<Event>) {
        self.state = match self.state {
            DState::Data if b == IAC => DState::Iac,
            DState::Data => {
                self.push_data(b, data);
                DState::Data
            }
            DState::Iac => match b {
                IAC => {
                    self.push_data(IAC, data);
                    DState::Data
                }
                WILL | WONT | DO | DONT => DState::Verb(b),
                SB => {
                    self.sub.clear();
                    DState::Sub
                }
                other => {
                    events.push(Event::Other(other));
                    DState::Data
                }
            },
            DState::Verb(v) => {
                events.push(Event::Command(v, b));
                DState::Data
            }
            DState::Sub if b == IAC => DState::SubIac,
            DState::Sub => {
                if self.sub.len() < MAX_SUB {
                    self.sub.push(b);
                }
                DState::Sub
            }
            DState::SubIac => match b {
                IAC => {
                    if self.sub.len() < MAX_SUB {
                        self.sub.push(IAC);
                    }
                    DState::Sub
                }
                SE => {
                    self.end_sub(events);
                    DState::Data
                }
                _ => {
                    // IAC <cmd> inside a subnegotiation (a broken peer): end it, and take the
                    // command as one.
                    self.end_sub(events);
                    self.state = DState::Iac;
                    self.step(b, data, events);
                    return;
                }
            },
        };
    }

    fn end_sub(&mut self, events: &mut Vec<Event>) {
        if let Some((&opt, body)) = self.sub.split_first() {
            events.push(Event::Sub(opt, body.to_vec()));
        }
        self.sub.clear();
    }
}

/// Escapes data for the wire: 0xFF doubled; in NVT mode (`binary` false) a CR not followed by
/// LF becomes CR NUL.
pub fn escape(data: &[u8], binary: bool) -> Vec<u8> {
    let mut out = Vec::with_capacity(data.len() + 4);
    for (i, &b) in data.iter().enumerate() {
        out.push(b);
        if b == IAC {
            out.push(IAC);
        } else if b == b'\r' && !binary && data.get(i + 1) != Some(&b'\n') {
            out.push(0);
        }
    }
    out
}

/// One side's state of an option (RFC 1143, without the queue bit: we never change our mind).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Q {
    /// Disabled.
    #[default]
    No,
    /// Requested, no answer yet.
    WantYes,
    /// Enabled.
    Yes,
    /// Requested and refused.
    Refused,
}

/// Options we offer to do.
const WANT_US: [u8; 3] = [BINARY, SGA, COM_PORT];
/// Options we ask the server to do.
const WANT_HIM: [u8; 2] = [BINARY, SGA];

/// The client's telnet state: decoding, option negotiation, RFC 2217 line settings.
#[derive(Clone, Debug)]
pub struct Telnet {
    decoder: Decoder,
    us: [Q; 256],
    him: [Q; 256],
    /// Any telnet command received yet.
    pub seen_command: bool,
    /// The server's answer to SET-BAUDRATE.
    pub baud_ack: Option<u32>,
    /// Options the server asked for or offered that were refused.
    pub refused: Vec<u8>,
}

impl Default for Telnet {
    fn default() -> Self {
        Telnet {
            decoder: Decoder::default(),
            us: [Q::No; 256],
            him: [Q::No; 256],
            seen_command: false,
            baud_ack: None,
            refused: Vec::new(),
        }
    }
}

fn cmd(out: &mut Vec<u8>, verb: u8, opt: u8) {
    out.extend_from_slice(&[IAC, verb, opt]);
}

fn sub(out: &mut Vec<u8>, opt: u8, body: &[u8]) {
    out.extend_from_slice(&[IAC, SB, opt]);
    out.extend_from_slice(&escape(body, true));
    out.extend_from_slice(&[IAC, SE]);
}

impl Telnet {
    /// Our side of `opt`.
    pub fn us(&self, opt: u8) -> Q {
        self.us[opt as usize]
    }

    /// The server's side of `opt`.
    pub fn him(&self, opt: u8) -> Q {
        self.him[opt as usize]
    }

    /// Whether the COM-PORT-OPTION question is settled (accepted or refused).
    pub fn com_port_settled(&self) -> bool {
        match self.us(COM_PORT) {
            Q::Refused => true,
            Q::Yes => self.baud_ack.is_some(),
            Q::No | Q::WantYes => false,
        }
    }

    /// Our requests for the options we want that are not negotiated yet.
    pub fn start(&mut self) -> Vec<u8> {
        let mut out = Vec::new();
        for opt in WANT_US {
            if self.us[opt as usize] == Q::No {
                self.us[opt as usize] = Q::WantYes;
                cmd(&mut out, WILL, opt);
            }
        }
        for opt in WANT_HIM {
            if self.him[opt as usize] == Q::No {
                self.him[opt as usize] = Q::WantYes;
                cmd(&mut out, DO, opt);
            }
        }
        out
    }

    /// Decodes received bytes: data goes to `data`; returns what must be sent back.
    pub fn receive(&mut self, input: &[u8], data: &mut Vec<u8>) -> Vec<u8> {
        let mut events = Vec::new();
        let mut out = Vec::new();
        // Feed byte-wise in chunks so a BINARY change applies to the bytes after it.
        let mut rest = input;
        while !rest.is_empty() {
            let before = events.len();
            let mut i = 0;
            while i < rest.len() && events.len() == before {
                self.decoder.feed(&rest[i..=i], data, &mut events);
                i += 1;
            }
            rest = &rest[i..];
            for e in events.drain(before..).collect::<Vec<_>>() {
                self.seen_command = true;
                self.handle(e, &mut out);
            }
        }
        out
    }

    /// Escapes outgoing console data.
    pub fn encode(&self, data: &[u8]) -> Vec<u8> {
        escape(data, self.us(BINARY) == Q::Yes)
    }

    fn handle(&mut self, e: Event, out: &mut Vec<u8>) {
        match e {
            Event::Command(verb, opt) => self.command(verb, opt, out),
            Event::Sub(COM_PORT, body) => self.com_port(&body, out),
            Event::Sub(..) | Event::Other(_) => {}
        }
    }

    fn refuse(&mut self, opt: u8) {
        if !self.refused.contains(&opt) {
            self.refused.push(opt);
        }
    }

    fn command(&mut self, verb: u8, opt: u8, out: &mut Vec<u8>) {
        let i = opt as usize;
        match verb {
            WILL => match self.him[i] {
                Q::Yes => {}
                Q::WantYes => self.him[i] = Q::Yes,
                Q::No | Q::Refused if WANT_HIM.contains(&opt) => {
                    self.him[i] = Q::Yes;
                    cmd(out, DO, opt);
                }
                Q::No | Q::Refused => {
                    self.refuse(opt);
                    cmd(out, DONT, opt);
                }
            },
            WONT => match self.him[i] {
                Q::Yes => {
                    self.him[i] = Q::No;
                    cmd(out, DONT, opt);
                }
                Q::WantYes => self.him[i] = Q::Refused,
                Q::No | Q::Refused => {}
            },
            DO => match self.us[i] {
                Q::Yes => {}
                Q::WantYes => {
                    self.us[i] = Q::Yes;
                    self.enabled_us(opt, out);
                }
                Q::No | Q::Refused if WANT_US.contains(&opt) => {
                    self.us[i] = Q::Yes;
                    cmd(out, WILL, opt);
                    self.enabled_us(opt, out);
                }
                Q::No | Q::Refused => {
                    self.refuse(opt);
                    cmd(out, WONT, opt);
                }
            },
            DONT => match self.us[i] {
                Q::Yes => {
                    self.us[i] = Q::No;
                    cmd(out, WONT, opt);
                }
                Q::WantYes => self.us[i] = Q::Refused,
                Q::No | Q::Refused => {}
            },
            _ => {}
        }
        self.decoder.binary = self.him(BINARY) == Q::Yes;
    }

    fn enabled_us(&mut self, opt: u8, out: &mut Vec<u8>) {
        if opt == COM_PORT {
            let mut baud = vec![cpo::SET_BAUDRATE];
            baud.extend_from_slice(&BAUD.to_be_bytes());
            sub(out, COM_PORT, &baud);
            sub(out, COM_PORT, &[cpo::SET_DATASIZE, 8]);
            sub(out, COM_PORT, &[cpo::SET_PARITY, 1]);
            sub(out, COM_PORT, &[cpo::SET_STOPSIZE, 1]);
            sub(out, COM_PORT, &[cpo::SET_CONTROL, 1]);
        }
    }

    fn com_port(&mut self, body: &[u8], out: &mut Vec<u8>) {
        let Some((&code, val)) = body.split_first() else {
            return;
        };
        match code {
            c if c == cpo::SERVER + cpo::SIGNATURE && val.is_empty() => {
                let mut sig = vec![cpo::SIGNATURE];
                sig.extend_from_slice(b"rpibsp-hil");
                sub(out, COM_PORT, &sig);
            }
            c if c == cpo::SERVER + cpo::SET_BAUDRATE && val.len() == 4 => {
                self.baud_ack = Some(u32::from_be_bytes([val[0], val[1], val[2], val[3]]));
            }
            // Line/modem state notifications, flow control suspend/resume, the other
            // acknowledgements: nothing to do for a console.
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn decode_all(chunks: &[&[u8]], binary: bool) -> (Vec<u8>, Vec<Event>) {
        let mut d = Decoder {
            binary,
            ..Decoder::default()
        };
        let (mut data, mut ev) = (Vec::new(), Vec::new());
        for c in chunks {
            d.feed(c, &mut data, &mut ev);
        }
        (data, ev)
    }

    #[test]
    fn iac_iac_is_data_and_commands_are_stripped() {
        let wire = [
            b'a', IAC, IAC, b'b', IAC, WILL, SGA, b'c', IAC, SB, COM_PORT, 101, 0, 1, 0xc2, 0, IAC,
            SE, IAC, NOP, b'd',
        ];
        let (data, ev) = decode_all(&[&wire], true);
        assert_eq!(data, [b'a', 0xff, b'b', b'c', b'd']);
        assert_eq!(
            ev,
            vec![
                Event::Command(WILL, SGA),
                Event::Sub(COM_PORT, vec![101, 0, 1, 0xc2, 0]),
                Event::Other(NOP)
            ]
        );
        // Cut after every byte: the same.
        let parts: Vec<&[u8]> = wire.chunks(1).collect();
        assert_eq!(decode_all(&parts, true), (data, ev));
    }

    #[test]
    fn cr_nul_only_outside_binary_mode() {
        let (d, _) = decode_all(&[b"a\r", b"\0b\r\n"], false);
        assert_eq!(d, b"a\rb\r\n");
        let (d, _) = decode_all(&[b"a\r", b"\0b"], true);
        assert_eq!(d, b"a\r\0b");
        assert_eq!(escape(b"x\ry\r\n\xff", false), b"x\r\0y\r\n\xff\xff");
        assert_eq!(escape(b"x\r\xff", true), b"x\r\xff\xff");
    }

    #[test]
    fn negotiation_accepts_what_we_want_and_refuses_the_rest() {
        let mut t = Telnet::default();
        let start = t.start();
        assert_eq!(
            start,
            [
                IAC, WILL, BINARY, IAC, WILL, SGA, IAC, WILL, COM_PORT, IAC, DO, BINARY, IAC, DO,
                SGA
            ]
        );
        assert!(t.start().is_empty(), "requested once only");
        let mut data = Vec::new();
        // Answers to our requests: no reply (no loops), COM-PORT accepted: the settings.
        let reply = t.receive(
            &[IAC, DO, BINARY, IAC, WILL, BINARY, IAC, DO, SGA],
            &mut data,
        );
        assert!(reply.is_empty(), "{reply:?}");
        let reply = t.receive(&[IAC, DO, COM_PORT], &mut data);
        let mut want = Vec::new();
        for body in [
            &[cpo::SET_BAUDRATE, 0, 1, 0xc2, 0][..],
            &[cpo::SET_DATASIZE, 8],
            &[cpo::SET_PARITY, 1],
            &[cpo::SET_STOPSIZE, 1],
            &[cpo::SET_CONTROL, 1],
        ] {
            sub(&mut want, COM_PORT, body);
        }
        assert_eq!(reply, want);
        assert!(!t.com_port_settled(), "waits for the baud rate's answer");
        // The server refuses SGA; asks for ECHO, terminal type; offers ECHO; repeats DO BINARY.
        let reply = t.receive(
            &[
                IAC, WONT, SGA, IAC, DO, ECHO, IAC, DO, 24, IAC, WILL, ECHO, IAC, DO, BINARY,
            ],
            &mut data,
        );
        assert_eq!(
            reply,
            [IAC, WONT, ECHO, IAC, WONT, 24, IAC, DONT, ECHO],
            "refusals only, no answer to what is settled"
        );
        assert_eq!(t.him(SGA), Q::Refused);
        assert_eq!(t.refused, [ECHO, 24]);
        // A DONT of an enabled option is acknowledged once.
        assert_eq!(
            t.receive(&[IAC, DONT, BINARY], &mut data),
            [IAC, WONT, BINARY]
        );
        assert!(t.receive(&[IAC, DONT, BINARY], &mut data).is_empty());
        // The baud rate's answer, and a signature request.
        let reply = t.receive(
            &[
                IAC, SB, COM_PORT, 101, 0, 1, 0xc2, 0, IAC, SE, IAC, SB, COM_PORT, 100, IAC, SE,
            ],
            &mut data,
        );
        assert_eq!(t.baud_ack, Some(115_200));
        assert!(t.com_port_settled());
        let mut sig = Vec::new();
        sub(&mut sig, COM_PORT, b"\0rpibsp-hil");
        assert_eq!(reply, sig);
        assert!(data.is_empty());
    }

    #[test]
    fn server_first_negotiation_is_answered_then_not_requested_again() {
        let mut t = Telnet::default();
        let mut data = Vec::new();
        let reply = t.receive(&[IAC, WILL, SGA, IAC, DO, COM_PORT, b'x'], &mut data);
        assert_eq!(&reply[..6], [IAC, DO, SGA, IAC, WILL, COM_PORT]);
        assert_eq!(data, b"x");
        assert_eq!(
            t.start(),
            [IAC, WILL, BINARY, IAC, WILL, SGA, IAC, DO, BINARY]
        );
    }

    #[derive(Clone, Debug)]
    enum Tok {
        Data(Vec<u8>),
        Cmd(u8, u8),
        Sub(u8, Vec<u8>),
        Nop,
    }

    fn tok() -> impl Strategy<Value = Tok> {
        prop_oneof![
            proptest::collection::vec(any::<u8>(), 0..20).prop_map(Tok::Data),
            (
                prop_oneof![Just(WILL), Just(WONT), Just(DO), Just(DONT)],
                any::<u8>()
            )
                .prop_map(|(v, o)| Tok::Cmd(v, o)),
            (any::<u8>(), proptest::collection::vec(any::<u8>(), 0..10))
                .prop_map(|(o, b)| Tok::Sub(o, b)),
            Just(Tok::Nop),
        ]
    }

    proptest! {
        /// Any stream of data, commands and subnegotiations, cut anywhere, decodes to the same
        /// data and commands.
        #[test]
        fn decoder_is_split_invariant(
            toks in proptest::collection::vec(tok(), 0..30),
            cuts in proptest::collection::vec(any::<prop::sample::Index>(), 0..10),
        ) {
            let (mut wire, mut data, mut events) = (Vec::new(), Vec::new(), Vec::new());
            for t in &toks {
                match t {
                    Tok::Data(d) => {
                        wire.extend_from_slice(&escape(d, true));
                        data.extend_from_slice(d);
                    }
                    Tok::Cmd(v, o) => {
                        cmd(&mut wire, *v, *o);
                        events.push(Event::Command(*v, *o));
                    }
                    Tok::Sub(o, b) => {
                        let mut body = vec![*o];
                        body.extend_from_slice(b);
                        wire.extend_from_slice(&[IAC, SB]);
                        wire.extend_from_slice(&escape(&body, true));
                        wire.extend_from_slice(&[IAC, SE]);
                        events.push(Event::Sub(*o, b.clone()));
                    }
                    Tok::Nop => {
                        wire.extend_from_slice(&[IAC, NOP]);
                        events.push(Event::Other(NOP));
                    }
                }
            }
            let mut at: Vec<usize> = cuts.iter().map(|i| i.index(wire.len() + 1)).collect();
            at.sort_unstable();
            let mut parts = Vec::new();
            let mut prev = 0;
            for a in at {
                parts.push(&wire[prev..a]);
                prev = a;
            }
            parts.push(&wire[prev..]);
            prop_assert_eq!(decode_all(&parts, true), (data.clone(), events.clone()));
            prop_assert_eq!(decode_all(&[&wire], true), (data, events));
        }

        /// Outgoing data survives escaping and decoding, in both modes.
        #[test]
        fn escape_round_trips(data in proptest::collection::vec(any::<u8>(), 0..200), binary: bool) {
            let wire = escape(&data, binary);
            prop_assert_eq!(wire.iter().filter(|&&b| b == IAC).count() % 2, 0);
            prop_assert_eq!(decode_all(&[&wire], binary).0, data);
        }

        /// The client never answers an answer: each command of the server, received twice in a
        /// row, gets no reply the second time, except the refusal of an unwanted option.
        #[test]
        fn no_negotiation_loops(cmds in proptest::collection::vec(
            (prop_oneof![Just(WILL), Just(WONT), Just(DO), Just(DONT)], any::<u8>()), 0..20)) {
            let mut t = Telnet::default();
            let _ = t.start();
            let mut data = Vec::new();
            for (v, o) in cmds {
                let _ = t.receive(&[IAC, v, o], &mut data);
                let again = t.receive(&[IAC, v, o], &mut data);
                match v {
                    WILL if !WANT_HIM.contains(&o) => prop_assert_eq!(again, [IAC, DONT, o]),
                    DO if !WANT_US.contains(&o) => prop_assert_eq!(again, [IAC, WONT, o]),
                    _ => prop_assert!(again.is_empty(), "{:?} after {} {}", again, v, o),
                }
            }
            prop_assert!(data.is_empty());
        }
    }
}
