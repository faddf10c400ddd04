#!/usr/bin/env node
// Drives the real Genesys Cloud JavaScript SDK (purecloud-platform-client-v2) through triage.
//
// Run by tests/js_sdk.rs with the SDK installed in target/js-sdk (see .ci/setup-js-sdk); the
// SDK's directory comes in TRIAGE_JS_SDK. Prints exactly one JSON object on stdout:
//   {"ok": bool, "status": int|null, "headers": {...}, "body": ..., "result": ..., "error": str|null}
// - ok: the step finished without a rejection.
// - status/headers/body: what the rejection carried. The SDK rejects with the error body alone
//   (status null, headers {}), unless --extended called setReturnExtendedResponses(true), which
//   makes it reject with {status, headers, body} (FACTS §8.2; ApiClient.js callApi).
// - error: "rejected" for an API error, else the Error's name and message (network, harness).
//
// Steps (every SDK name here was checked against purecloud-platform-client-v2 262.0.0):
// - login-and-get: loginClientCredentialsGrant(id, secret) (POST /oauth/token on the gateway),
//   then TokensApi.getTokensMe() (GET /api/v2/tokens/me).
// - send-closed: login, then ConversationsApi.postConversationsMessageCommunicationMessages(
//   conversationId, communicationId, {textBody}) (POST
//   /api/v2/conversations/messages/{conversationId}/communications/{communicationId}/messages).
'use strict';

const path = require('path');

function parseArgs(argv) {
  const args = {
    step: argv[0],
    conversationId: 'c0ffee00-0000-4000-8000-000000000001',
    communicationId: 'c0ffee00-0000-4000-8000-000000000002',
    text: "hello from triage's SDK test",
    extended: false,
  };
  for (let i = 1; i < argv.length; i++) {
    const key = argv[i];
    const value = () => {
      if (i + 1 >= argv.length) throw new Error(`${key} needs a value`);
      return argv[++i];
    };
    switch (key) {
      case '--gateway': args.gateway = new URL(value()); break;
      case '--client-id': args.clientId = value(); break;
      case '--client-secret': args.clientSecret = value(); break;
      case '--conversation-id': args.conversationId = value(); break;
      case '--communication-id': args.communicationId = value(); break;
      case '--text': args.text = value(); break;
      case '--extended': args.extended = true; break;
      default: throw new Error(`unknown argument ${key}`);
    }
  }
  if (!['login-and-get', 'send-closed'].includes(args.step)) throw new Error(`unknown step ${args.step}`);
  if (!args.gateway || !args.clientId || !args.clientSecret) {
    throw new Error('needs --gateway URL --client-id ID --client-secret SECRET');
  }
  return args;
}

function lowerKeys(headers) {
  const out = {};
  for (const [k, v] of Object.entries(headers || {})) out[k.toLowerCase()] = v;
  return out;
}

async function main() {
  const args = parseArgs(process.argv.slice(2));
  const sdkDir = process.env.TRIAGE_JS_SDK;
  if (!sdkDir) throw new Error('TRIAGE_JS_SDK is not set');
  const platformClient = require(path.join(sdkDir, 'node_modules', 'purecloud-platform-client-v2'));

  const client = platformClient.ApiClient.instance;
  // setEnvironment() would turn "http://127.0.0.1:8787" into https://api.127.0.0.1:8787; the
  // gateway is the SDK's way to a local host (FACTS §8.2).
  client.setGateway({
    host: args.gateway.hostname,
    protocol: args.gateway.protocol.replace(':', ''),
    port: Number(args.gateway.port),
  });
  if (args.extended) client.setReturnExtendedResponses(true);

  const out = { ok: false, status: null, headers: {}, body: null, result: null, error: null };
  try {
    await client.loginClientCredentialsGrant(args.clientId, args.clientSecret);
    let result;
    if (args.step === 'login-and-get') {
      result = await new platformClient.TokensApi().getTokensMe();
    } else {
      result = await new platformClient.ConversationsApi().postConversationsMessageCommunicationMessages(
        args.conversationId, args.communicationId, { textBody: args.text });
    }
    out.ok = true;
    out.result = args.extended ? result.body : result;
  } catch (e) {
    if (e instanceof Error) {
      // A login failure rejects with axios' Error; its response is there when one came.
      out.error = `${e.name}: ${e.message}`;
      if (e.response) {
        out.status = e.response.status;
        out.headers = lowerKeys(e.response.headers);
        out.body = e.response.data;
      }
    } else if (args.extended) {
      out.error = 'rejected';
      out.status = e.status;
      out.headers = lowerKeys(e.headers);
      out.body = e.body;
    } else {
      out.error = 'rejected';
      out.body = e;
    }
  }
  process.stdout.write(JSON.stringify(out) + '\n');
}

main().catch((e) => {
  process.stderr.write(`js_client.js: ${e.stack || e}\n`);
  process.exit(2);
});
