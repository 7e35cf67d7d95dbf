// The resident's wallet, in the browser: a key that never leaves this device, and the credentials bound to it.
//
// The private key is made by WebCrypto as non-extractable and kept in IndexedDB: script can ask it to sign but
// can never read it, and the server never sees it. Collecting a credential signs an OpenID4VCI key proof
// (typ openid4vci-proof+jwt) over the issuer's nonce; the credential comes back bound to this key.
// Everything shown is written with textContent: credential values are data, never markup.
"use strict";

const DB_NAME = "did-service-wallet";
const STORE_KEYS = "keys";
const STORE_CREDENTIALS = "credentials";
const STORE_HISTORY = "history";
// The order a card lists claims in (the page's labels arrive sorted by name, the disclosures shuffled).
const CLAIM_ORDER = ["familyName", "givenName", "familyNameRomanized", "givenNameRomanized", "birthDate", "sex",
  "address", "movedInDate", "household", "issuingAuthority"];

function openDb() {
  return new Promise((resolve, reject) => {
    const request = indexedDB.open(DB_NAME, 2);
    request.onupgradeneeded = (event) => {
      if (event.oldVersion < 1) {
        request.result.createObjectStore(STORE_KEYS);
        request.result.createObjectStore(STORE_CREDENTIALS, { keyPath: "id" });
      }
      // What was shared, with whom and when: kept on this device only, like the credentials themselves.
      if (event.oldVersion < 2) request.result.createObjectStore(STORE_HISTORY, { autoIncrement: true });
    };
    request.onsuccess = () => resolve(request.result);
    request.onerror = () => reject(request.error);
  });
}

function tx(db, store, mode, work) {
  return new Promise((resolve, reject) => {
    const transaction = db.transaction(store, mode);
    const result = work(transaction.objectStore(store));
    transaction.oncomplete = () => resolve(result && "result" in result ? result.result : undefined);
    transaction.onerror = () => reject(transaction.error);
  });
}

function b64url(bytes) {
  let text = "";
  for (const byte of new Uint8Array(bytes)) text += String.fromCharCode(byte);
  return btoa(text).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

function b64urlJson(value) {
  return b64url(new TextEncoder().encode(JSON.stringify(value)));
}

function decodeB64urlJson(segment) {
  const text = atob(segment.replace(/-/g, "+").replace(/_/g, "/") + "===".slice((segment.length + 3) % 4));
  return JSON.parse(new TextDecoder().decode(Uint8Array.from(text, (c) => c.charCodeAt(0))));
}

// The holder key for this account on this device, made on first use.
async function holderKey(db, account) {
  let pair = await tx(db, STORE_KEYS, "readonly", (s) => s.get(account));
  if (!pair) {
    pair = await crypto.subtle.generateKey({ name: "ECDSA", namedCurve: "P-256" }, false, ["sign", "verify"]);
    await tx(db, STORE_KEYS, "readwrite", (s) => s.put(pair, account));
  }
  const jwk = await crypto.subtle.exportKey("jwk", pair.publicKey);
  return { privateKey: pair.privateKey, jwk: { kty: jwk.kty, crv: jwk.crv, x: jwk.x, y: jwk.y } };
}

async function signJwt(header, payload, privateKey) {
  const input = b64urlJson(header) + "." + b64urlJson(payload);
  // WebCrypto's ECDSA signature is r || s, exactly what JWS ES256 wants.
  const signature = await crypto.subtle.sign({ name: "ECDSA", hash: "SHA-256" }, privateKey,
    new TextEncoder().encode(input));
  return input + "." + b64url(signature);
}

// An SD-JWT presentation of the named claims only, with a Key Binding JWT for this verifier and nonce.
async function present(sdJwt, claimNames, audience, nonce, privateKey) {
  const [issuerJwt, ...rest] = sdJwt.split("~");
  const kept = rest.filter((part) => part && claimNames.includes(decodeB64urlJson(part)[1]));
  const presented = issuerJwt + "~" + kept.map((part) => part + "~").join("");
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(presented));
  const kbJwt = await signJwt({ alg: "ES256", typ: "kb+jwt" },
    { iat: Math.floor(Date.now() / 1000), aud: audience, nonce, sd_hash: b64url(digest) }, privateKey);
  return presented + kbJwt;
}

function csrfToken() {
  const meta = document.querySelector('meta[name="csrf-token"]');
  return meta ? meta.content : "";
}

async function api(path, body) {
  const response = await fetch(path, {
    method: body === undefined ? "GET" : "POST",
    credentials: "same-origin",
    headers: body === undefined ? { Accept: "application/json" }
      : { "Content-Type": "application/json", Accept: "application/json", "X-CSRF-Token": csrfToken() },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const data = await response.json().catch(() => ({}));
  if (!response.ok) throw new Error(data.detail || data.title || String(response.status));
  return data;
}

async function collect(db, account, type) {
  const key = await holderKey(db, account);
  const { c_nonce: nonce, aud } = await api("/wallet/api/nonce");
  const proof = await signJwt({ alg: "ES256", typ: "openid4vci-proof+jwt", jwk: key.jwk },
    { aud, iat: Math.floor(Date.now() / 1000), nonce }, key.privateKey);
  const { credential, credential_type: credentialType } = await api("/wallet/api/credentials", { type, proof });
  const sdJwt = credential.id.split(",", 2)[1];
  await tx(db, STORE_CREDENTIALS, "readwrite", (s) => s.put({ id: sdJwt.split("~", 1)[0].slice(-43), account,
    type: credentialType, sdJwt, collectedAt: new Date().toISOString() }));
}

// The claims an SD-JWT holds: the issuer-signed payload plus every disclosure's name and value.
function claimsOf(sdJwt) {
  const [issuerJwt, ...disclosures] = sdJwt.split("~");
  const payload = decodeB64urlJson(issuerJwt.split(".")[1]);
  const claims = {};
  for (const part of disclosures) {
    if (!part) continue;
    const disclosure = decodeB64urlJson(part);
    if (disclosure.length === 3) claims[disclosure[1]] = disclosure[2];
  }
  return { payload, claims };
}

function text(tag, value, className) {
  const element = document.createElement(tag);
  element.textContent = value;
  if (className) element.className = className;
  return element;
}

function describe(value) {
  if (value === null || typeof value !== "object") return String(value);
  return Object.values(value).map(describe).join(" ");
}

async function render(db, account, list, labels) {
  const all = await tx(db, STORE_CREDENTIALS, "readonly", (s) => s.getAll());
  const mine = all.filter((c) => c.account === account);
  list.replaceChildren();
  if (!mine.length) {
    list.append(text("p", labels.empty, "empty"));
    return;
  }
  for (const item of mine) {
    const { payload, claims } = claimsOf(item.sdJwt);
    const card = document.createElement("article");
    card.className = "credential-card";
    card.append(text("h3", labels.types[item.type] || item.type));
    const facts = document.createElement("dl");
    facts.className = "facts";
    const rows = [];
    const all = { issuingAuthority: payload.issuingAuthority, ...claims };
    for (const name of CLAIM_ORDER) {
      if (name in all && all[name] !== undefined) rows.push([labels.claims[name], describe(all[name])]);
    }
    rows.push([labels.validFrom, new Date(payload.nbf * 1000).toLocaleDateString()]);
    for (const [term, value] of rows) facts.append(text("dt", term), text("dd", value));
    card.append(facts);
    list.append(card);
  }
}

function showRequest(panel, request, labels) {
  panel.replaceChildren();
  const who = request.verifier_name || request.client_id;
  panel.append(text("h3", labels.asks.replace("{name}", who)));
  panel.append(text("p", request.verified_name ? labels.verified : labels.unverified,
    request.verified_name ? "badge verified" : "badge unverified"));
  if (request.verifier_role === "financial-institution") panel.append(text("p", labels.financial));
  const list = document.createElement("ul");
  list.className = "requested-claims";
  for (const name of request.claims) {
    const item = text("li", name === "residentRegistrationNumber" ? labels.rrn : (labels.claims[name] || name));
    if (name === "residentRegistrationNumber") item.className = "rrn";
    list.append(item);
  }
  panel.append(list);
  panel.append(text("p", labels.until.replace("{time}", new Date(request.expires_at).toLocaleTimeString())));
  panel.hidden = false;
}

async function setUpPresenting(db, account, labels, status) {
  const form = document.getElementById("present-form");
  const panel = document.getElementById("consent");
  const actions = document.getElementById("consent-actions");
  if (!form) return;
  form.hidden = false;
  let request = null;
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    status.textContent = "";
    try {
      request = await api("/wallet/api/requests", { link: form.elements.link.value });
      showRequest(panel, request, labels);
      actions.hidden = false;
    } catch (error) {
      request = null;
      panel.hidden = true;
      actions.hidden = true;
      status.textContent = labels.badRequest + " " + error.message;
    }
  });
  document.getElementById("consent-decline").addEventListener("click", () => {
    request = null;
    panel.hidden = true;
    actions.hidden = true;
    status.textContent = labels.declined;
  });
  document.getElementById("consent-share").addEventListener("click", async () => {
    if (!request) return;
    const all = await tx(db, STORE_CREDENTIALS, "readonly", (s) => s.getAll());
    const held = all.find((c) => c.account === account && c.type === request.credential_type);
    if (!held) {
      status.textContent = labels.noCredential;
      return;
    }
    const key = await holderKey(db, account);
    const presentation = await present(held.sdJwt, request.claims, request.client_id, request.nonce, key.privateKey);
    const result = await api("/wallet/api/presentations", { link: form.elements.link.value, presentation });
    status.textContent = result.accepted ? labels.shared : labels.refused + " " + (result.code || "");
    await tx(db, STORE_HISTORY, "readwrite", (s) => s.add({ account, at: new Date().toISOString(),
      verifier: request.verifier_name || request.client_id, verified: request.verified_name,
      claims: request.claims, accepted: result.accepted }));
    await renderHistory(db, account, labels);
    panel.hidden = true;
    actions.hidden = true;
    request = null;
  });
  const preset = new URLSearchParams(location.search).get("request");
  if (preset) {
    form.elements.link.value = preset;
    form.requestSubmit();
  }
}

async function renderHistory(db, account, labels) {
  const list = document.getElementById("history-list");
  if (!list) return;
  const entries = (await tx(db, STORE_HISTORY, "readonly", (s) => s.getAll())).filter((e) => e.account === account);
  list.replaceChildren();
  if (!entries.length) {
    list.append(text("p", labels.noHistory, "empty"));
    return;
  }
  const items = document.createElement("ul");
  items.className = "history";
  for (const entry of entries.reverse()) {
    const names = entry.claims.map((n) => n === "residentRegistrationNumber" ? labels.rrnShort : (labels.claims[n] || n));
    items.append(text("li", labels.historyLine.replace("{time}", new Date(entry.at).toLocaleString())
      .replace("{name}", entry.verifier).replace("{claims}", names.join(", "))
      + (entry.accepted ? "" : " " + labels.historyRefused)));
  }
  list.append(items);
}

// For a shared or lost device: this account's credentials, key and history leave this browser. The credentials
// stay valid; a new device collects fresh ones with a new key.
async function setUpRemoval(db, account, labels, list) {
  const button = document.getElementById("remove-device");
  if (!button) return;
  button.hidden = false;
  button.addEventListener("click", async () => {
    if (!window.confirm(labels.removeConfirm)) return;
    const mine = (await tx(db, STORE_CREDENTIALS, "readonly", (s) => s.getAll())).filter((c) => c.account === account);
    await tx(db, STORE_CREDENTIALS, "readwrite", (s) => mine.forEach((c) => s.delete(c.id)));
    await tx(db, STORE_KEYS, "readwrite", (s) => s.delete(account));
    const history = await new Promise((resolve) => {
      const found = [];
      const cursor = db.transaction(STORE_HISTORY).objectStore(STORE_HISTORY).openCursor();
      cursor.onsuccess = () => {
        const at = cursor.result;
        if (!at) return resolve(found);
        if (at.value.account === account) found.push(at.key);
        at.continue();
      };
    });
    await tx(db, STORE_HISTORY, "readwrite", (s) => history.forEach((key) => s.delete(key)));
    await render(db, account, list, labels);
    await renderHistory(db, account, labels);
    document.getElementById("wallet-status").textContent = labels.removed;
  });
}

async function main() {
  const root = document.getElementById("wallet");
  if (!root || !window.crypto || !crypto.subtle || !window.indexedDB) return;
  const labels = JSON.parse(document.getElementById("wallet-labels").textContent);
  const account = root.dataset.account;
  const list = document.getElementById("credential-list");
  const status = document.getElementById("wallet-status");
  const db = await openDb();
  await render(db, account, list, labels);
  await setUpPresenting(db, account, labels, document.getElementById("present-status"));
  await renderHistory(db, account, labels);
  await setUpRemoval(db, account, labels, list);
  for (const button of document.querySelectorAll("button[data-collect]")) {
    button.hidden = false;
    button.addEventListener("click", async () => {
      button.disabled = true;
      status.textContent = labels.collecting;
      try {
        await collect(db, account, button.dataset.collect);
        status.textContent = labels.collected;
        await render(db, account, list, labels);
      } catch (error) {
        status.textContent = labels.failed + " " + error.message;
      } finally {
        button.disabled = false;
      }
    });
  }
}

main();
