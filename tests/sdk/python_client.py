#!/usr/bin/env python3
"""Drives the real Genesys Cloud Python SDK (purecloudplatformclientv2) through triage.

Run by tests/python_sdk.rs with the interpreter of target/sdk-venv (see .ci/setup-python-sdk).
Prints exactly one JSON object on stdout:
    {"ok": bool, "status": int|null, "headers": {...}, "body": ..., "result": ..., "error": str|null}
- ok: the step finished without an exception.
- status/headers/body: from the ApiException when one was raised (headers with lower-cased keys,
  body parsed as JSON when it is JSON); status is null on success.
- result: the SDK's deserialised result, serialised back to JSON (camelCase keys as on the wire).

Steps (every SDK name used here was checked against PureCloudPlatformClientV2 269.0.0):
- login-and-get: ApiClient.get_client_credentials_token(id, secret) (POST /oauth/token on the login
  base, which for a non-"//api." host is the host itself), then TokensApi.get_tokens_me()
  (GET /api/v2/tokens/me).
- send-closed: login, then ConversationsApi.post_conversations_message_communication_messages(
  conversation_id, communication_id, AdditionalMessage(text_body=...)) (POST
  /api/v2/conversations/messages/{conversationId}/communications/{communicationId}/messages);
  the test expects it to raise ApiException (e.g. a 4xx for a closed conversation).
"""
import argparse
import json
import sys


def parse_body(body):
    if body is None:
        return None
    if isinstance(body, bytes):
        body = body.decode("utf-8", "replace")
    try:
        return json.loads(body)
    except (TypeError, ValueError):
        return body


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("step", choices=["login-and-get", "send-closed"])
    p.add_argument("--host", required=True, help="triage's address, e.g. http://127.0.0.1:8787")
    p.add_argument("--client-id", required=True)
    p.add_argument("--client-secret", required=True)
    p.add_argument("--conversation-id", default="c0ffee00-0000-4000-8000-000000000001")
    p.add_argument("--communication-id", default="c0ffee00-0000-4000-8000-000000000002")
    p.add_argument("--text", default="hello from triage's SDK test")
    p.add_argument("--ca-cert", help="a CA bundle to trust (certs/README.md: configuration.ssl_ca_cert)")
    args = p.parse_args()

    import PureCloudPlatformClientV2 as gc
    from PureCloudPlatformClientV2.rest import ApiException

    # The host must be set before the ApiClient is created: ApiClient copies it (FACTS §8.1).
    gc.configuration.host = args.host
    if args.ca_cert:
        gc.configuration.ssl_ca_cert = args.ca_cert
    out = {"ok": False, "status": None, "headers": {}, "body": None, "result": None, "error": None}
    try:
        api_client = gc.ApiClient().get_client_credentials_token(args.client_id, args.client_secret)
        if args.step == "login-and-get":
            result = gc.TokensApi(api_client).get_tokens_me()
        else:
            body = gc.AdditionalMessage()
            body.text_body = args.text
            result = gc.ConversationsApi(api_client).post_conversations_message_communication_messages(
                args.conversation_id, args.communication_id, body
            )
        out["ok"] = True
        out["result"] = api_client.sanitize_for_serialization(result)
    except ApiException as e:
        out["status"] = e.status
        out["headers"] = {k.lower(): v for k, v in (e.headers or {}).items()}
        out["body"] = parse_body(e.body)
        out["error"] = "ApiException"
    except Exception as e:  # anything else is a harness or SDK failure, reported the same way
        out["error"] = f"{type(e).__name__}: {e}"
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
