// The JS side of bench/compare.py: the official @cobo/cobo-waas2 SDK, sequential getToken calls.
// The SDK prints its string to sign on every call (console.log); that is silenced so terminal
// output does not distort the timing. The JS SDK does not verify response signatures.
const CoboWaas2 = require("@cobo/cobo-waas2");

const SECRET = "a84fa52a55b98b9bcfd79fb55e019b002b4bb23a6654708cfe7dd1d46c55e950";

async function main() {
  const [baseUrl, , calls, warmup] = process.argv.slice(2);
  const print = console.log;
  console.log = () => {};
  const apiClient = CoboWaas2.ApiClient.instance;
  apiClient.setPrivateKey(SECRET);
  apiClient.basePath = baseUrl;
  const api = new CoboWaas2.OAuthApi();
  const call = () => api.getToken("pvSwS8iFrfK0oZrB0ugG54XPDOLEv0Ij", "e3986401-4aec-480a-973d-e775a4518413", "org_implicit");
  for (let i = 0; i < Number(warmup); i++) await call();
  const started = process.hrtime.bigint();
  for (let i = 0; i < Number(calls); i++) await call();
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  const version = require("@cobo/cobo-waas2/package.json").version;
  print(JSON.stringify({ client: `@cobo/cobo-waas2 ${version} (JS)`, calls: Number(calls), seconds }));
}

main().catch((error) => {
  process.stderr.write(`${error && error.stack ? error.stack : error}\n`);
  process.exit(1);
});
