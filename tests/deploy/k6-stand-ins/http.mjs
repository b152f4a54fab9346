// Node stand-in for the part of k6/http the scenarios use: asyncRequest over fetch. A network failure is
// status 0, as in k6.
async function asyncRequest(method, url, body, params) {
  try {
    const res = await fetch(url, {
      method,
      body: body === null ? undefined : body,
      headers: params?.headers,
    });
    return { status: res.status, body: await res.text() };
  } catch (err) {
    return { status: 0, body: null, error: String(err) };
  }
}

function expectedStatuses(...statuses) {
  return { statuses };
}

export default { asyncRequest, expectedStatuses };
