-- wrk script for POST /api/v1/verify: the JSON body and its content type.
-- bench/verify.sh sets VERIFY_PRODUCT and VERIFY_NONCE. No response() callback: wrk's own
-- "Non-2xx or 3xx responses" line counts the failures at no cost to the client's CPU.
local product = os.getenv("VERIFY_PRODUCT") or error("VERIFY_PRODUCT is not set")
local nonce = os.getenv("VERIFY_NONCE") or error("VERIFY_NONCE is not set")

wrk.method = "POST"
wrk.body = string.format('{"product":"%s","nonce":"%s"}', product, nonce)
wrk.headers["Content-Type"] = "application/json"
