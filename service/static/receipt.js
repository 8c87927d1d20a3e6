/*
 * Docket receipts, verified in the reader's browser (SPEC §6.2).
 *
 * No build step and no library: RFC 8785 (JCS) for the JSON a receipt holds, WebCrypto
 * SHA-256 and Ed25519, RFC 9162 inclusion proofs, C2SP signed-note signatures and C2SP
 * tlog-cosignature (cosignature/v1) lines. The same checks as `docket receipt verify`:
 *
 *   const result = await DocketReceipt.verify(receipt, logKey, witnessKeys, quorum);
 *   DocketReceipt.render(element, result);  // plain words, built with textContent only
 *
 * `result.ok` is true when nothing failed; `result.failures` lists each failed check as
 * {check, detail, position, stream_version}. The log's signed statement must name exactly
 * the proved events (SPEC §6.2 "Complete, not just true"); `pending` events are shown as
 * NOT YET VERIFIED, and `result.complete` is true only when none are. Keys are C2SP vkeys
 * (`<name>+<hex key id>+<base64(type || key)>`): type 0x01 for the log, 0x04 for witnesses.
 */
"use strict";

(function (global) {
  const encoder = new TextEncoder();
  const DISCLOSED = [
    "position", "event_id", "stream_id", "stream_version", "event_type",
    "schema_version", "occurred_at", "recorded_at", "data", "sealed",
  ];
  const PROOF_FIELDS = ["leaf_index", "inclusion_proof", "tlog_proof"];

  // --- RFC 8785 ---------------------------------------------------------------------

  class CanonicalizationError extends Error {}

  function wellFormed(text) {
    if (typeof text.isWellFormed === "function") return text.isWellFormed();
    return !/[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(^|[^\uD800-\uDBFF])[\uDC00-\uDFFF]/.test(text);
  }

  function jcsString(text) {
    if (!wellFormed(text)) throw new CanonicalizationError("a string holds a lone surrogate");
    // JSON.stringify escapes exactly as JCS asks: \b \t \n \f \r \" \\ and \u00xx for
    // the other controls, everything else as is.
    return JSON.stringify(text);
  }

  function jcs(value) {
    if (value === null) return "null";
    switch (typeof value) {
      case "boolean":
        return value ? "true" : "false";
      case "number":
        // ECMAScript Number.prototype.toString, which JCS takes for numbers (-0 is "0").
        if (!Number.isFinite(value)) throw new CanonicalizationError("NaN or infinity");
        return JSON.stringify(value);
      case "string":
        return jcsString(value);
      case "object":
        if (Array.isArray(value)) return "[" + value.map(jcs).join(",") + "]";
        // Default sort compares UTF-16 code units, the order JCS asks for.
        return "{" + Object.keys(value).sort()
          .map((key) => jcsString(key) + ":" + jcs(value[key])).join(",") + "}";
      default:
        throw new CanonicalizationError("not a JSON value: " + typeof value);
    }
  }

  // --- bytes ------------------------------------------------------------------------

  function concat(...parts) {
    const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
    let at = 0;
    for (const part of parts) { out.set(part, at); at += part.length; }
    return out;
  }

  function fromBase64(text) {
    if (!/^[A-Za-z0-9+/]*={0,2}$/.test(text) || text.length % 4 !== 0) {
      throw new Error("not base64");
    }
    const raw = atob(text);
    return Uint8Array.from(raw, (c) => c.charCodeAt(0));
  }

  function fromHex(text) {
    if (typeof text !== "string" || !/^([0-9a-f]{2})*$/.test(text)) return null;
    const out = new Uint8Array(text.length / 2);
    for (let i = 0; i < out.length; i++) out[i] = parseInt(text.substr(2 * i, 2), 16);
    return out;
  }

  function toHex(bytes) {
    return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
  }

  function equal(a, b) {
    if (a.length !== b.length) return false;
    for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
    return true;
  }

  async function sha256(bytes) {
    return new Uint8Array(await crypto.subtle.digest("SHA-256", bytes));
  }

  // --- RFC 9162 inclusion proofs -----------------------------------------------------

  const LEAF = new Uint8Array([0]);
  const NODE = new Uint8Array([1]);

  async function inclusionRoot(leaf, index, size, path) {
    let fn = index, sn = size - 1, r = leaf;
    for (const sibling of path) {
      if (sn === 0) return null;
      if (fn % 2 === 1 || fn === sn) {
        r = await sha256(concat(NODE, sibling, r));
        while (fn % 2 === 0 && fn !== 0) { fn = Math.floor(fn / 2); sn = Math.floor(sn / 2); }
      } else {
        r = await sha256(concat(NODE, r, sibling));
      }
      fn = Math.floor(fn / 2); sn = Math.floor(sn / 2);
    }
    return sn === 0 ? r : null;
  }

  // --- signed notes and cosignatures ---------------------------------------------------

  async function parseKey(text, type) {
    const parts = String(text).trim().split("+");
    if (parts.length < 3) throw new Error("a key is <name>+<hex key id>+<base64 key>");
    const name = parts[0], id = fromHex(parts[1]), raw = fromBase64(parts.slice(2).join("+"));
    if (!name || !id || id.length !== 4) throw new Error("key " + name + ": bad key id");
    if (raw.length !== 33 || raw[0] !== type) {
      throw new Error("key " + name + " is not of type 0x0" + type + " (Ed25519)");
    }
    const expected = (await sha256(concat(encoder.encode(name + "\n"), raw))).slice(0, 4);
    if (!equal(expected, id)) throw new Error("key " + name + ": its id does not match");
    const key = await crypto.subtle.importKey("raw", raw.slice(1), { name: "Ed25519" }, false, ["verify"]);
    return { name, id, key, raw: toHex(raw.slice(1)), text: String(text).trim() };
  }

  // The signature type of a vkey (its first key byte), or -1 if it does not decode.
  function keyType(text) {
    const parts = String(text).trim().split("+");
    try {
      return parts.length < 3 ? -1 : fromBase64(parts.slice(2).join("+"))[0];
    } catch (error) {
      return -1;
    }
  }

  // WebCrypto has no ML-DSA: ML-DSA-44 lines (signature type 0x06, C2SP tlog-cosignature)
  // are not checked in the page, and the page says so; `docket receipt verify` checks them.
  const ML_DSA_44 = 0x06;

  function splitNote(note) {
    const cut = note.lastIndexOf("\n\n");
    if (cut < 0 || !note.endsWith("\n")) throw new Error("not a signed note");
    const lines = [];
    for (const line of note.slice(cut + 2, -1).split("\n")) {
      if (!line.startsWith("\u2014 ")) throw new Error("not a signature line: " + line);
      const rest = line.slice(2), space = rest.lastIndexOf(" ");
      try {
        lines.push({ name: rest.slice(0, space), blob: fromBase64(rest.slice(space + 1)) });
      } catch (error) { /* a line no trusted key can match */ }
    }
    return { text: note.slice(0, cut + 1), lines };
  }

  function parseCheckpoint(text) {
    const lines = text.slice(0, -1).split("\n");
    // At most 20 digits, as every Docket parser (SPEC §11 R14); and exact as a Number.
    if (lines.length < 3 || !/^(0|[1-9][0-9]{0,19})$/.test(lines[1])) {
      throw new Error("a checkpoint is an origin, a tree size of at most 20 digits and a root hash");
    }
    if (!Number.isSafeInteger(Number(lines[1]))) {
      throw new Error("the tree size " + lines[1] + " is beyond what this page can check");
    }
    const root = fromBase64(lines[2]);
    if (root.length !== 32) throw new Error("the root hash is not 32 bytes");
    return { origin: lines[0], size: Number(lines[1]), root };
  }

  async function verifySigned(note, logKey, what) {
    const key = await parseKey(logKey, 0x01);
    const { text, lines } = splitNote(note);
    const ours = lines.filter((l) => l.name === key.name && l.blob.length === 68 && equal(l.blob.slice(0, 4), key.id));
    if (!ours.length) throw new Error("the " + what + " is not signed by " + key.name);
    for (const line of ours) {
      const good = await crypto.subtle.verify({ name: "Ed25519" }, key.key, line.blob.slice(4), encoder.encode(text));
      if (!good) throw new Error("bad signature by " + key.name + " on the " + what);
    }
    return { key, text };
  }

  async function verifyNote(note, logKey) {
    const { key, text } = await verifySigned(note, logKey, "checkpoint");
    return { key, checkpoint: parseCheckpoint(text) };
  }

  // The statement (events/statement.py): header, origin, request, size, positions.
  async function statementFailures(receipt, logKey, checkpoint) {
    let text;
    try {
      text = (await verifySigned(receipt.statement, logKey, "statement")).text;
    } catch (error) {
      return [failure("statement", error.message)];
    }
    const lines = text.slice(0, -1).split("\n");
    const expected = ["docket.receipt-statement/v1", "origin " + checkpoint.origin,
      "request " + receipt.request_id, "size " + checkpoint.size];
    if (lines.length !== 5 || expected.some((line, i) => lines[i] !== line)
        || !/^positions( (0|[1-9][0-9]{0,19}))*$/.test(lines[4])) {
      return [failure("statement", "it is not the statement of this log, request and checkpoint size")];
    }
    const named = lines[4].split(" ").slice(1).map(Number);
    const shown = receipt.events.map((e) => e.position);
    const out = [];
    for (const position of named) {
      if (!shown.includes(position)) {
        out.push(failure("statement", "the log's statement names an event of the request here (its public events up to size "
          + checkpoint.size + " are at " + named.join(", ") + "); the receipt leaves it out, so it does not show the whole record",
          { position }));
      }
    }
    for (const event of receipt.events) {
      if (!named.includes(event.position)) {
        out.push(failure("statement", "shown as proved, yet the log's statement does not name it", event));
      }
    }
    return out;
  }

  // One public key is one witness: the keys may come from the log itself
  // (/public/log/witnesses), which could list one key under two names to make one
  // cosignature count twice (the signed message does not name the witness).
  async function distinctWitnesses(witnessKeys) {
    const raws = new Set();
    for (const keyText of witnessKeys) raws.add((await parseKey(keyText, 0x04)).raw);
    return raws.size;
  }

  async function cosigners(note, witnessKeys) {
    const { text, lines } = splitNote(note);
    const found = [];
    const counted = new Set();  // the raw keys that already have their one vote
    for (const keyText of new Set(witnessKeys.map((k) => String(k).trim()))) {
      const key = await parseKey(keyText, 0x04);
      if (counted.has(key.raw)) continue;
      for (const line of lines) {
        if (line.name !== key.name || line.blob.length !== 76 || !equal(line.blob.slice(0, 4), key.id)) continue;
        let time = 0;
        for (const b of line.blob.slice(4, 12)) time = time * 256 + b;
        const message = encoder.encode("cosignature/v1\ntime " + time + "\n" + text);
        if (await crypto.subtle.verify({ name: "Ed25519" }, key.key, line.blob.slice(12), message)) {
          found.push({ name: key.name, timestamp: time });
          counted.add(key.raw);
          break;
        }
      }
    }
    return found;
  }

  // --- the receipt ----------------------------------------------------------------------

  const isObject = (v) => v !== null && typeof v === "object" && !Array.isArray(v);
  const isInt = (v) => Number.isInteger(v);

  function failure(check, detail, event) {
    return {
      check, detail,
      position: event && isInt(event.position) ? event.position : null,
      stream_version: event && isInt(event.stream_version) ? event.stream_version : null,
    };
  }

  function shapeFailures(receipt) {
    const problems = [];
    if (!isObject(receipt)) return [failure("receipt", "the receipt is not a JSON object")];
    if (typeof receipt.request_id !== "string") problems.push("no request_id");
    if (!isObject(receipt.log)) problems.push("no log {origin, key}");
    if (typeof receipt.checkpoint !== "string") problems.push("no checkpoint note");
    if (typeof receipt.statement !== "string") problems.push("no statement (the log's signed list of the request's public events)");
    for (const name of ["events", "pending"]) {
      if (!Array.isArray(receipt[name]) || !receipt[name].every(isObject)) problems.push(name + " is not a list of objects");
    }
    return problems.map((p) => failure("receipt", p));
  }

  function disclosedFailures(event, stream, proved) {
    const members = Object.keys(event).filter((k) => !(proved && PROOF_FIELDS.includes(k))).sort();
    if (members.join() !== [...DISCLOSED].sort().join()) {
      return [failure("leaf", "not a disclosed form (members " + members.join(", ") + ")", event)];
    }
    if (event.stream_id !== stream) {
      return [failure("stream", "it is of stream " + event.stream_id + ", not " + stream, event)];
    }
    return [];
  }

  // The event's C2SP tlog-proof@v1 text must say what leaf_index and inclusion_proof say,
  // against the receipt's checkpoint: one proof in two spellings.
  function tlogProofFailure(event, note) {
    const text = event.tlog_proof;
    if (typeof text !== "string") return failure("tlog-proof", "no tlog_proof text", event);
    const cut = text.indexOf("\n\n");
    const lines = cut < 0 ? [] : text.slice(0, cut).split("\n");
    if (lines[0] !== "c2sp.org/tlog-proof@v1") {
      return failure("tlog-proof", "not a c2sp.org/tlog-proof@v1 text", event);
    }
    let rest = lines.slice(1);
    if (rest.length && rest[0].startsWith("extra ")) rest = rest.slice(1);
    let hashes;
    try {
      hashes = rest.slice(1).map((line) => toHex(fromBase64(line)));
    } catch (error) {
      return failure("tlog-proof", "a proof line is not base64", event);
    }
    if (rest[0] !== "index " + event.leaf_index || hashes.join() !== event.inclusion_proof.join()) {
      return failure("tlog-proof", "its index or proof hashes differ from leaf_index and inclusion_proof", event);
    }
    // the same tree head; its signature lines may differ (each proof stands on its own)
    const own = text.slice(cut + 2);
    if (own.slice(0, own.lastIndexOf("\n\n")) !== note.slice(0, note.lastIndexOf("\n\n"))) {
      return failure("tlog-proof", "its checkpoint is not the receipt's", event);
    }
    return null;
  }

  async function proofFailure(event, checkpoint, note) {
    if (!isInt(event.position) || !isInt(event.leaf_index)) {
      return failure("leaf index", "position and leaf_index must be integers", event);
    }
    if (event.leaf_index !== event.position - 1) {
      return failure("leaf index", "leaf_index " + event.leaf_index + " is not position - 1", event);
    }
    const proof = Array.isArray(event.inclusion_proof) ? event.inclusion_proof.map(fromHex) : null;
    if (!proof || proof.some((p) => !p || p.length !== 32) || proof.length > 64) {
      return failure("inclusion proof", "the proof is not a list of 32-byte lowercase hex hashes", event);
    }
    const body = {};
    for (const name of DISCLOSED) body[name] = event[name];
    let leaf;
    try {
      leaf = await sha256(concat(LEAF, encoder.encode(jcs(body))));
    } catch (error) {
      return failure("leaf", "the event cannot be canonicalised: " + error.message, event);
    }
    if (event.leaf_index >= checkpoint.size) {
      return failure("inclusion proof", "leaf " + event.leaf_index + " is not in a tree of " + checkpoint.size, event);
    }
    const root = await inclusionRoot(leaf, event.leaf_index, checkpoint.size, proof);
    if (!root || !equal(root, checkpoint.root)) {
      return failure("inclusion proof", "the event as shown (leaf " + toHex(leaf) + ") is not in the signed tree of "
        + checkpoint.size + ": a disclosed field or a proof hash differs from what the log holds", event);
    }
    return tlogProofFailure(event, note);
  }

  async function verify(receipt, logKey, witnessKeys = [], quorum = null) {
    const started = performance.now();
    const result = {
      ok: false, failures: shapeFailures(receipt), request_id: null, checkpoint: null,
      events: [], pending: [], cosigned: [], witnesses: witnessKeys.length, quorum: quorum ?? witnessKeys.length,
    };
    if (result.failures.length) return finish(result, started);
    result.request_id = receipt.request_id;
    result.events = receipt.events;
    result.pending = receipt.pending;
    // ML-DSA-44 witness keys are set aside, named as not checked here (never a failure).
    result.unchecked = witnessKeys.filter((k) => keyType(k) === ML_DSA_44).map((k) => String(k).trim().split("+")[0]);
    witnessKeys = witnessKeys.filter((k) => keyType(k) !== ML_DSA_44);
    let trusted;
    try {
      trusted = await parseKey(logKey, 0x01);
    } catch (error) {
      result.failures.push(failure("log key", "the log key given is unusable: " + error.message));
      return finish(result, started);
    }
    try {
      result.witnesses = await distinctWitnesses(witnessKeys);
    } catch (error) {
      result.failures.push(failure("witness key", "a witness key given is unusable: " + error.message));
      return finish(result, started);
    }
    let need = quorum === null || quorum === undefined ? result.witnesses : quorum;
    // With ML-DSA-44 witnesses set aside, the page asks what the Ed25519 ones can give.
    if (result.unchecked.length) need = Math.min(need, result.witnesses);
    result.quorum = need;
    let checkpoint;
    try {
      checkpoint = (await verifyNote(receipt.checkpoint, logKey)).checkpoint;
    } catch (error) {
      result.failures.push(failure("checkpoint signature", error.message));
      try {
        checkpoint = parseCheckpoint(splitNote(receipt.checkpoint).text);
      } catch (again) {
        return finish(result, started);
      }
    }
    result.checkpoint = checkpoint;
    try {  // the log's own ML-DSA-44 line: same name, another key id
      result.logMldsa = splitNote(receipt.checkpoint).lines.some((l) => l.name === trusted.name && !equal(l.blob.slice(0, 4), trusted.id));
    } catch (error) {
      result.logMldsa = false;
    }
    if (checkpoint.origin !== receipt.log.origin) {
      result.failures.push(failure("origin", "the checkpoint is of log " + checkpoint.origin + ", the receipt says " + receipt.log.origin));
    }
    if (checkpoint.origin !== trusted.name) {
      result.failures.push(failure("origin", "the checkpoint is of log " + checkpoint.origin + ", the key given is " + trusted.name + "'s"));
    }
    if (receipt.log.key !== trusted.text) {
      result.failures.push(failure("log key", "the receipt names another log key than the one given"));
    }
    try {
      result.cosigned = await cosigners(receipt.checkpoint, witnessKeys);
    } catch (error) {
      result.failures.push(failure("quorum", "cosignatures could not be read: " + error.message));
    }
    if (result.cosigned.length < need) {
      const names = result.cosigned.map((c) => c.name).join(", ") || "none";
      result.failures.push(failure("quorum", result.cosigned.length + " valid witness cosignatures (" + names + "), " + need + " required"));
    }
    const stream = "request-" + receipt.request_id;
    for (const event of receipt.events) {
      const shape = disclosedFailures(event, stream, true);
      result.failures.push(...shape);
      const proved = await proofFailure(event, checkpoint, receipt.checkpoint);
      if (proved) result.failures.push(proved);
    }
    for (const event of receipt.pending) {
      result.failures.push(...disclosedFailures(event, stream, false));
      if (isInt(event.position) && event.position <= checkpoint.size) {
        result.failures.push(failure("pending", "the checkpoint covers it (size " + checkpoint.size + ") yet it has no proof", event));
      }
    }
    result.failures.push(...await statementFailures(receipt, logKey, checkpoint));
    return finish(result, started);
  }

  function finish(result, started) {
    result.ok = result.failures.length === 0;
    result.complete = result.ok && result.pending.length === 0;
    result.milliseconds = performance.now() - started;
    return result;
  }

  // --- in words -----------------------------------------------------------------------

  function what(event) {
    const data = isObject(event.data) ? event.data : {};
    switch (event.event_type) {
      case "ExemptionApproved":
        return "the approval (letter " + data.letter_ref + ", valid " + data.valid_from + " to " + data.valid_until + ")";
      case "ExtensionGranted": return "the extension of validity to " + data.valid_until;
      case "AmendmentApproved": return "the approved amendment of the items";
      case "ShipmentRecorded": return "shipment " + data.shipment_no + " of " + data.shipped_on;
      case "RequestSubmitted": {
        const applicant = isObject(data.applicant) ? data.applicant : {};
        return "the request \u201c" + data.title + "\u201d of " + applicant.name;
      }
      case "RequestCirculated": return "its circulation to the committee";
      case "RequestWithdrawn": return "its withdrawal";
      default: return "a " + event.event_type + " entry";
    }
  }

  function day(seconds) {
    return new Date(seconds * 1000).toLocaleDateString("en-GB", { day: "numeric", month: "short", year: "numeric", timeZone: "UTC" });
  }

  function utcTime(seconds) {
    return new Date(seconds * 1000).toISOString().replace("T", " ").replace(/\.\d+Z$/, " UTC");
  }

  /** The checkpoint's tree size and the newest witness time, always said. */
  function checkpointLine(result) {
    if (!result.checkpoint) return "Checkpoint: none readable.";
    const latest = result.cosigned.reduce((t, c) => Math.max(t, c.timestamp), 0);
    return "Checkpoint: log " + result.checkpoint.origin + ", tree size " + result.checkpoint.size.toLocaleString("en-GB")
      + "; newest witness cosignature: " + (latest ? utcTime(latest) : "no witness time") + ".";
  }

  function where(f) {
    if (f.position === null) return "";
    return "event at position " + f.position + (f.stream_version === null ? "" : " (stream version " + f.stream_version + ")") + ": ";
  }

  /** {ok, complete, headline, lines}: the outcome for a bank clerk, or what failed. */
  function describe(result) {
    if (!result.ok) {
      return {
        ok: false,
        complete: false,
        headline: "Not verified: this receipt of " + (result.request_id || "an unknown request") + " does not check out.",
        lines: [...result.failures.map((f) => f.check + ": " + where(f) + f.detail), checkpointLine(result)],
      };
    }
    const approvals = result.events.filter((e) => e.event_type === "ExemptionApproved");
    const main = approvals.length ? approvals[approvals.length - 1] : result.events[result.events.length - 1];
    const latest = result.cosigned.reduce((t, c) => Math.max(t, c.timestamp), 0);
    let under = latest ? "checkpoint of " + day(latest) : "checkpoint";
    if (result.witnesses) {
      under += " cosigned by " + result.cosigned.length + " of " + result.witnesses + " witnesses";
    } else {
      under += ", signed by the committee's log key";
    }
    let headline = main
      ? "This " + (main.event_type === "ExemptionApproved" ? "approval" : "request") + " is in the committee's signed log at position " + main.position + "; " + under + "."
      : "Request " + result.request_id + ": nothing proven yet; " + under + ".";
    if (result.pending.length) {
      headline = "Not yet verified in full: " + result.pending.length + " event(s) shown are not proved. " + headline;
    }
    const lines = result.events.map((e) => "Position " + e.position + ": " + what(e) + " \u2014 proven.");
    lines.push("The log's signed statement says these " + result.events.length + " are all the request's public events up to its entry "
      + result.checkpoint.size.toLocaleString("en-GB") + ".");
    for (const e of result.pending) {
      lines.push("Position " + e.position + ": " + what(e) + " \u2014 NOT YET VERIFIED: no published checkpoint covers it, and anyone could have added it; check again later.");
    }
    lines.push(checkpointLine(result));
    if (result.logMldsa || (result.unchecked || []).length) {
      const notChecked = [];
      if (result.logMldsa) notChecked.push("the log's ML-DSA-44 signature line");
      if (result.unchecked.length) notChecked.push("the ML-DSA-44 cosignatures of " + result.unchecked.join(", "));
      lines.push("Checked in this page: the log's Ed25519 signature" + (result.witnesses ? " and the Ed25519 witnesses' cosignatures" : "")
        + ". Not checked in this page (the browser has no ML-DSA-44): " + notChecked.join(" and ")
        + "; `docket receipt verify` checks them.");
    }
    return { ok: true, complete: result.pending.length === 0, headline, lines };
  }

  /** Writes the outcome into `element` (text only: nothing from the receipt becomes HTML). */
  function render(element, result) {
    const words = describe(result);
    element.replaceChildren();
    element.dataset.verified = words.complete ? "yes" : words.ok ? "pending" : "no";
    const head = document.createElement("p");
    head.className = words.complete ? "receipt-ok" : words.ok ? "receipt-pending" : "receipt-failed";
    head.textContent = words.headline;
    element.append(head);
    const list = document.createElement("ul");
    for (const line of words.lines) {
      const item = document.createElement("li");
      item.textContent = line;
      list.append(item);
    }
    element.append(list);
    return words;
  }

  // --- on a page -------------------------------------------------------------------------

  async function fetched(url, as) {
    const answer = await fetch(url, { headers: { Accept: as === "json" ? "application/json" : "text/plain" } });
    if (!answer.ok) throw new Error(url + " answered " + answer.status);
    return as === "json" ? answer.json() : answer.text();
  }

  /** Links to each proved event's C2SP tlog-proof@v1 file (text only, as `render`). */
  function offerProofs(element, receipt) {
    const events = Array.isArray(receipt.events) ? receipt.events.filter((e) => isInt(e.position)) : [];
    if (!events.length || typeof receipt.request_id !== "string") return;
    const intro = document.createElement("p");
    intro.textContent = "Each proved event as a C2SP tlog-proof file, for any tlog-proof verifier:";
    const list = document.createElement("ul");
    list.className = "tlog-proofs";
    for (const event of events) {
      const name = receipt.request_id + "-" + event.position + ".tlog-proof";
      const link = document.createElement("a");
      link.href = "/public/requests/" + encodeURIComponent(receipt.request_id) + "/events/" + event.position + ".tlog-proof";
      link.download = name;
      link.textContent = name + " (" + what(event) + ")";
      const item = document.createElement("li");
      item.append(link);
      list.append(item);
    }
    element.append(intro, list);
  }

  /**
   * Verifies the receipt an element names and writes the outcome into it:
   * <div data-docket-receipt="/public/requests/HX-2026-0042/receipt"
   *      data-log-key="/public/log-key" data-witnesses="/public/log/witnesses"></div>
   * The witness policy is {quorum, witnesses: [{name, vkey}]}; without data-witnesses no
   * cosignature is asked for.
   */
  async function check(element) {
    const ds = element.dataset;
    try {
      const [receipt, logKey, policy] = await Promise.all([
        fetched(ds.docketReceipt, "json"),
        fetched(ds.logKey || "/public/log-key", "text"),
        ds.witnesses ? fetched(ds.witnesses, "json") : Promise.resolve({ quorum: 0, witnesses: [] }),
      ]);
      const keys = (policy.witnesses || []).map((w) => w.vkey || w.key);
      const quorum = Number.isInteger(policy.quorum) ? policy.quorum : keys.length;
      // /public/log-key lists the Ed25519 key first, then any ML-DSA-44 key.
      const result = await verify(receipt, logKey.trim().split("\n")[0], keys, quorum);
      const words = render(element, result);
      offerProofs(element, receipt);
      return words;
    } catch (error) {
      element.replaceChildren();
      element.dataset.verified = "no";
      const line = document.createElement("p");
      line.className = "receipt-failed";
      line.textContent = "The receipt could not be checked: " + error.message;
      element.append(line);
      return { ok: false, headline: line.textContent, lines: [] };
    }
  }

  if (typeof document !== "undefined") {
    const start = () => document.querySelectorAll("[data-docket-receipt]").forEach(check);
    if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
    else start();
  }

  global.DocketReceipt = { jcs, verify, describe, render, check, CanonicalizationError };
})(typeof window !== "undefined" ? window : globalThis);
