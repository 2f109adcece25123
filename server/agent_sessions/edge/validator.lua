-- Strict proto3 JSON for the REST calls, checked before the transcoder sees them.
-- The transcoder coerces wrong JSON types ("yes" → true, 2 → assistant, an object → a list of
-- one) and has no option to stop it; its own refusals name no reason. This script refuses such
-- requests with a google.rpc.Status whose ErrorInfo says why: MALFORMED_JSON (the body is not
-- JSON), INVALID_ARGUMENT (a body field or query parameter of the wrong type, or not one of its
-- enum's names: named in metadata.field and a BadRequest, as the server does),
-- UNKNOWN_QUERY_PARAMETER (no field of the call, or one the path or the body carries) or
-- UNKNOWN_PATH (no REST call has this method and path).
--
-- Rendering (agent_sessions/edge/schema.py) puts one line before this script: `local API, LIMITS
-- = {routes, messages, enums}, {max_depth, domain}`, the REST calls and request types of the proto
-- descriptor and the bounds of agent_sessions/validation.py. Every request that is not native gRPC
-- (as Envoy tells it: content type application/grpc or application/grpc+...) is checked, and one
-- that no REST call answers is refused here, so nothing reaches the transcoder unchecked. If the
-- script itself fails, the request passes on: the transcoder and the server still check it.
local byte, char, find, format = string.byte, string.char, string.find, string.format
local gmatch, match, sub = string.gmatch, string.match, string.sub
local concat, floor = table.concat, math.floor
local MAX_DEPTH = LIMITS.max_depth

-- Well-known types in their JSON form.
local WKT = {
  ["google.protobuf.Timestamp"] = "string", ["google.protobuf.Duration"] = "string",
  ["google.protobuf.FieldMask"] = "string", ["google.protobuf.StringValue"] = "string",
  ["google.protobuf.BytesValue"] = "bytes", ["google.protobuf.BoolValue"] = "bool",
  ["google.protobuf.Int32Value"] = "int32", ["google.protobuf.UInt32Value"] = "uint32",
  ["google.protobuf.Int64Value"] = "int64", ["google.protobuf.UInt64Value"] = "uint64",
  ["google.protobuf.FloatValue"] = "double", ["google.protobuf.DoubleValue"] = "double",
  ["google.protobuf.Struct"] = "object", ["google.protobuf.Any"] = "object",
  ["google.protobuf.Empty"] = "object", ["google.protobuf.ListValue"] = "array",
  ["google.protobuf.Value"] = "value",
}
local RANGES = {
  int32 = {-2147483648, 2147483647}, uint32 = {0, 4294967295},
  int64 = {-2 ^ 63, 2 ^ 63}, uint64 = {0, 2 ^ 64},
}

-- Lookups built once from API: fields by proto and JSON name, enum names, routes.
local FIELDS, ENUMS, ROUTES = {}, {}, {}
for name, values in pairs(API.enums) do
  local set, shown = {}, {}
  for i, value in ipairs(values) do
    set[value] = true
    if i > 1 or not find(value:upper(), "UNSPECIFIED", 1, true) then shown[#shown + 1] = value end
  end
  ENUMS[name] = {set = set, names = concat(shown, ", ")}
end
local LEAF = {message = false, object = false, array = false, value = false}
for name, fields in pairs(API.messages) do
  local byname = {}
  for _, f in ipairs(fields) do
    local kind, type_name = f[3], f[4]
    if kind == "message" and WKT[type_name] then kind = WKT[type_name] end
    local elem = {kind = kind, type = type_name}
    local field = {name = f[1], label = f[5], elem = elem, leaf = LEAF[kind] == nil}
    if f[5] == "repeated" then
      field.want = {kind = "repeated", elem = elem}
    elseif f[5] == "map" then
      field.want, field.leaf = {kind = "map", key = f[6], elem = elem}, false
    else
      field.want = elem
    end
    byname[f[1]], byname[f[2]] = field, field
  end
  FIELDS[name] = byname
end
for _, r in ipairs(API.routes) do
  local route = {method = r[1], call = r[1] .. " " .. r[2], segments = r[3], verb = r[4],
                 body = r[5], request = r[6], literals = 0, bound = {}}
  for _, segment in ipairs(r[3]) do
    if type(segment) == "string" then
      route.literals = route.literals + 1
    else
      route.bound[segment[1]] = true
    end
  end
  local params = {}
  for _, f in ipairs(API.messages[r[6]] or {}) do
    local field = FIELDS[r[6]][f[1]]
    if r[5] ~= "*" and r[5] ~= f[1] and field.leaf and not route.bound[f[1]] then
      params[#params + 1] = f[1]
    end
  end
  route.params = #params > 0 and "takes " .. concat(params, ", ") or "takes no query parameters"
  ROUTES[#ROUTES + 1] = route
end

-- The call a request is for: the route with the most literal segments that matches, and among
-- those one whose custom verb the path names (GET …/turns/{id}:stream is ResumeTurn, not GetTurn
-- of a turn id "{id}:stream"). Trailing slashes are dropped first, as the transcoder drops them
-- (POST /api/agent-sessions/ creates).
local function find_route(method, path)
  local segments = {}
  local last = #path
  while last > 1 and byte(path, last) == 47 do last = last - 1 end  -- linear, unlike a pattern
  path = sub(path, 1, last)
  for segment in gmatch(sub(path, 2) .. "/", "([^/]*)/") do segments[#segments + 1] = segment end
  local head, verb = match(segments[#segments], "^(.*):([^:/]*)$")
  local best
  for _, route in ipairs(ROUTES) do
    if route.method == method and #route.segments == #segments
        and (best == nil or route.literals > best.literals
             or (route.literals == best.literals and route.verb and not best.verb)) then
      local ok = true
      for i, want in ipairs(route.segments) do
        local got = segments[i]
        if i == #segments and route.verb then
          ok, got = verb == route.verb, head
        end
        if type(want) == "string" then ok = ok and got == want else ok = ok and got ~= "" end
        if not ok then break end
      end
      if ok then best = route end
    end
  end
  return best
end

local function resolve(request, name)
  local fields, field, path = FIELDS[request], nil, {}
  for part in gmatch(name, "[^.]+") do
    field = fields and fields[part]
    if not field then return nil end
    path[#path + 1] = field.name
    fields = field.label == "single" and field.elem.kind == "message" and FIELDS[field.elem.type]
  end
  return field, concat(path, ".")
end

-- Refusals travel as error values: {reason, message, metadata, violation}, all INVALID_ARGUMENT
-- (HTTP 400) but for an unknown path (NOT_FOUND, 404).
local function refuse(reason, message, metadata, violation)
  error({reason = reason, message = message, metadata = metadata or {}, violation = violation}, 0)
end

local function unknown_path(method, path)
  local shown = (path:gsub("[^\32-\126]", "?"))
  error({reason = "UNKNOWN_PATH", message = "unknown path: no call answers " .. method .. " " .. shown,
         metadata = {method = method, path = shown}, code = 5, status = "404"}, 0)
end

local function printable(text)  -- client text in a message: ASCII only, at most 40 characters
  local shown = (sub(text, 1, 40):gsub("[^\32-\126]", "?"))
  return '"' .. shown .. (#text > 40 and '..."' or '"')
end

local function malformed(s, pos, what)
  local line, column = 1, pos
  for newline in gmatch(sub(s, 1, pos - 1), "()\n") do line, column = line + 1, pos - newline end
  refuse("MALFORMED_JSON",
    format("the request body is not valid JSON: %s (line %d, column %d)", what, line, column),
    {line = tostring(line), column = tostring(column)})
end

local function skip_space(s, pos)
  return find(s, "[^ \t\r\n]", pos) or #s + 1
end

-- Where the body's next quote, backslash, tab, newline and carriage return are: each is searched
-- (memchr) at most once past any point, so a long string costs a few searches, not a Lua step
-- per byte. Reset for each body; a check never yields, so one body is checked at a time.
local ahead, searched_from = {}, {}
local function next_at(s, c, pos)
  local at = ahead[c]
  if at == nil or at < pos or searched_from[c] > pos then
    at = find(s, c, pos, true) or #s + 1
    ahead[c], searched_from[c] = at, pos
  end
  return at
end

-- A string at pos: the position after it, its raw text, and whether it holds escapes.
local ESCAPES = {["\""] = "\"", ["\\"] = "\\", ["/"] = "/", b = "\b", f = "\f", n = "\n",
                 r = "\r", t = "\t"}
local UNESCAPED = {"\t", "\n", "\r"}  -- the other control characters fail the whole body
local HEX = {}
for d = 0, 9 do HEX[48 + d] = d end
for d = 0, 5 do HEX[65 + d], HEX[97 + d] = 10 + d, 10 + d end
local function hex4(s, at)  -- the value of four hex digits at `at`, or nil
  local a, b, c, d = byte(s, at, at + 3)
  a, b, c, d = HEX[a], HEX[b], HEX[c], HEX[d]
  return a and b and c and d and ((a * 16 + b) * 16 + c) * 16 + d
end
local SIMPLE = {[34] = true, [92] = true, [47] = true, [98] = true, [102] = true, [110] = true,
                [114] = true, [116] = true}  -- the bytes after \ of the escapes other than \u
local function scan_string(s, pos)
  local i, escaped = pos + 1, false
  while true do
    local close = next_at(s, '"', i)
    if close > #s then malformed(s, close, "a string is not closed") end
    local j = math.min(next_at(s, "\\", i), close)
    for _, c in ipairs(UNESCAPED) do
      local at = next_at(s, c, i)
      if at < j then malformed(s, at, "a control character in a string must be escaped") end
    end
    if j == close then return j + 1, sub(s, pos + 1, j - 1), escaped end
    escaped = true
    repeat  -- a run of escapes, in one tight loop (text in other scripts is often all \u escapes)
      local e = byte(s, j + 1)
      if e == 117 then
        local code = hex4(s, j + 2)
        if not code then malformed(s, j, "\\u must be followed by four hex digits") end
        if code >= 0xDC00 and code <= 0xDFFF then
          malformed(s, j, "a \\u low surrogate must follow a high one")
        elseif code >= 0xD800 and code <= 0xDBFF then
          local low = byte(s, j + 6) == 92 and byte(s, j + 7) == 117 and hex4(s, j + 8)
          if not low or low < 0xDC00 or low > 0xDFFF then
            malformed(s, j, "a \\u high surrogate must be followed by a low one")
          end
          j = j + 6
        end
        j = j + 6
      elseif SIMPLE[e] then
        j = j + 2
      else
        malformed(s, j, "invalid escape in a string")
      end
    until byte(s, j) ~= 92
    i = j
  end
end

local function utf8(code)
  if code < 0x80 then return char(code) end
  if code < 0x800 then return char(0xC0 + floor(code / 0x40), 0x80 + code % 0x40) end
  if code < 0x10000 then
    return char(0xE0 + floor(code / 0x1000), 0x80 + floor(code / 0x40) % 0x40, 0x80 + code % 0x40)
  end
  return char(0xF0 + floor(code / 0x40000), 0x80 + floor(code / 0x1000) % 0x40,
    0x80 + floor(code / 0x40) % 0x40, 0x80 + code % 0x40)
end

local function decode(raw)  -- the text of a scanned string that holds escapes
  local out, i = {}, 1
  while true do
    local j = find(raw, "\\", i, true)
    if j == nil then break end
    out[#out + 1] = sub(raw, i, j - 1)
    local e = sub(raw, j + 1, j + 1)
    if e == "u" then
      local code = tonumber(sub(raw, j + 2, j + 5), 16)
      i = j + 6
      if code >= 0xD800 and code <= 0xDBFF then
        code = 0x10000 + (code - 0xD800) * 0x400 + tonumber(sub(raw, j + 8, j + 11), 16) - 0xDC00
        i = j + 12
      end
      out[#out + 1] = utf8(code)
    else
      out[#out + 1], i = ESCAPES[e], j + 2
    end
  end
  out[#out + 1] = sub(raw, i)
  return concat(out)
end

local function scan_number(s, pos)
  local e = match(s, "^-?0()", pos) or match(s, "^-?[1-9]%d*()", pos)
  if e == nil then malformed(s, pos, "expected a JSON value") end
  local fraction = match(s, "^%.%d+()", e)
  if fraction then
    e = fraction
  elseif sub(s, e, e) == "." then
    malformed(s, e, "expected a digit")
  end
  local exponent = match(s, "^[eE][-+]?%d+()", e)
  if exponent then
    e = exponent
  elseif find(s, "^[eE]", e) then
    malformed(s, e, "expected a digit")
  end
  return e
end

local function expected(want)
  local kind = want.kind
  if kind == "enum" then
    return "must be one of " .. (ENUMS[want.type] or {names = "its names"}).names
  end
  if kind == "message" or kind == "object" or kind == "map" then return "must be a JSON object" end
  if kind == "repeated" or kind == "array" then return "must be a JSON array" end
  if kind == "string" or kind == "bytes" then return "must be a JSON string" end
  if kind == "bool" then return "must be true or false" end
  if kind == "double" or kind == "float" then return "must be a JSON number" end
  local range = RANGES[kind]
  return format("must be a whole JSON number from %.0f to %.0f", range[1], range[2])
end

local function describe(s, pos)
  local c = byte(s, pos)
  if c == 123 then return "an object" end
  if c == 91 then return "an array" end
  if c == 116 then return "true" end
  if c == 102 then return "false" end
  if c == 110 then return "null" end
  if c == 34 then
    local _, raw, escaped = scan_string(s, pos)
    return "the string " .. printable(escaped and decode(raw) or raw)
  end
  return "the number " .. printable(sub(s, pos, scan_number(s, pos) - 1)):sub(2, -2)
end

local function wrong(s, pos, want, path)
  local description = expected(want) .. ", not " .. describe(s, pos)
  if path == "" then refuse("INVALID_ARGUMENT", "the request body " .. description) end
  refuse("INVALID_ARGUMENT", path .. ": " .. description, {field = path}, {path, description})
end

local check  -- check(s, pos, depth, want, path): the position after the value at pos

local function members(s, pos, depth, fields, path, map)
  if depth > MAX_DEPTH then malformed(s, pos, format("nested more than %d levels deep", MAX_DEPTH)) end
  pos = skip_space(s, pos + 1)
  if byte(s, pos) == 125 then return pos + 1 end
  while true do
    if byte(s, pos) ~= 34 then malformed(s, pos, "expected a member name in double quotes") end
    local e, raw, escaped = scan_string(s, pos)
    local name = escaped and decode(raw) or raw
    pos = skip_space(s, e)
    if byte(s, pos) ~= 58 then malformed(s, pos, "expected ':' after a member name") end
    pos = skip_space(s, pos + 1)
    if map then
      local key = map.key
      local inner = path .. "[" .. printable(name) .. "]"
      if (key == "bool" and name ~= "true" and name ~= "false")
          or (RANGES[key] and not match(name, "^-?%d+$")) then
        refuse("INVALID_ARGUMENT", inner .. ": the key must be a " .. key, {field = path},
          {path, "keys must be " .. key .. " values"})
      end
      pos = check(s, pos, depth + 1, map.elem, inner)
    else
      local field = fields and fields[name]
      if field and sub(s, pos, pos + 3) ~= "null" then  -- null: the field is absent
        local inner = path == "" and field.name or path .. "." .. field.name
        pos = check(s, pos, depth + 1, field.want, inner)
      else  -- unknown fields are ignored, as the API promises, once they are well-formed JSON
        pos = check(s, pos, depth + 1, nil, path)
      end
    end
    pos = skip_space(s, pos)
    local c = byte(s, pos)
    if c == 125 then return pos + 1 end
    if c ~= 44 then malformed(s, pos, "expected ',' or '}' after an object member") end
    pos = skip_space(s, pos + 1)
  end
end

local function elements(s, pos, depth, elem, path)
  if depth > MAX_DEPTH then malformed(s, pos, format("nested more than %d levels deep", MAX_DEPTH)) end
  pos = skip_space(s, pos + 1)
  if byte(s, pos) == 93 then return pos + 1 end
  local i = 0
  while true do
    pos = skip_space(s, check(s, pos, depth + 1, elem, elem and format("%s[%d]", path, i) or path))
    local c = byte(s, pos)
    if c == 93 then return pos + 1 end
    if c ~= 44 then malformed(s, pos, "expected ',' or ']' after an array element") end
    pos, i = skip_space(s, pos + 1), i + 1
  end
end

check = function(s, pos, depth, want, path)
  local c, kind = byte(s, pos), want and want.kind or "value"
  local any = kind == "value"
  if c == nil then malformed(s, pos, "the body ends where a value is expected") end
  if c == 123 then
    if kind == "message" then return members(s, pos, depth, FIELDS[want.type], path) end
    if kind == "map" then return members(s, pos, depth, nil, path, want) end
    if any or kind == "object" then return members(s, pos, depth, nil, path) end
  elseif c == 91 then
    if kind == "repeated" then return elements(s, pos, depth, want.elem, path) end
    if any or kind == "array" then return elements(s, pos, depth, nil, path) end
  elseif c == 34 then
    local e, raw, escaped = scan_string(s, pos)
    if any or kind == "string" or kind == "bytes" then return e end
    local text = escaped and decode(raw) or raw
    if kind == "enum" then
      if ENUMS[want.type] == nil or ENUMS[want.type].set[text] then return e end
    elseif kind == "int64" or kind == "uint64" then
      if match(text, kind == "int64" and "^-?%d+$" or "^%d+$") then return e end
    elseif kind == "double" or kind == "float" then
      if text == "NaN" or text == "Infinity" or text == "-Infinity" then return e end
    end
  elseif c == 116 or c == 102 or c == 110 then
    local word = c == 116 and "true" or c == 102 and "false" or "null"
    if sub(s, pos, pos + #word - 1) ~= word then malformed(s, pos, "expected a JSON value") end
    if any or (kind == "bool" and c ~= 110) then return pos + #word end
  else
    local e = scan_number(s, pos)
    if any or kind == "double" or kind == "float" then return e end
    local value, range = tonumber(sub(s, pos, e - 1)), RANGES[kind]
    if range and value == floor(value) and value >= range[1] and value <= range[2] then return e end
  end
  wrong(s, pos, want, path)
end

local function check_body(route, s)
  local want, path = {kind = "message", type = route.request}, ""
  if route.body ~= "" and route.body ~= "*" then
    local field, name = resolve(route.request, route.body)
    if field == nil then return end
    want, path = field.want, name
  end
  ahead, searched_from = {}, {}
  local first, code
  for c = 0, 31 do  -- never valid in JSON, in a string or out (scan_string checks tab, LF, CR)
    local at = c ~= 9 and c ~= 10 and c ~= 13 and find(s, char(c), 1, true)
    if at and (first == nil or at < first) then first, code = at, c end
  end
  if first then
    malformed(s, first, format("control character U+%04X (escape it in a string)", code))
  end
  local pos = skip_space(s, check(s, skip_space(s, 1), 0, want, path))
  if pos <= #s then malformed(s, pos, "unexpected text after the JSON value") end
end

local function unknown_parameter(name, why)
  refuse("UNKNOWN_QUERY_PARAMETER",
    "query parameter " .. printable(name) .. " is not accepted: " .. why,
    {parameter = (name:gsub("[^\32-\126]", "?"))})
end

local function unescape(text)
  return (text:gsub("%%(%x%x)", function(hex) return char(tonumber(hex, 16)) end))
end

local function check_query(route, query)
  local seen = {}
  for pair in gmatch(query, "[^&]+") do
    local name, value = match(pair, "^([^=]*)=?(.*)$")
    name, value = unescape(name), unescape(value)
    local field, path = resolve(route.request, name)
    if route.body == "*" then
      unknown_parameter(name,
        route.call .. " takes no query parameters: send its fields in the JSON body")
    elseif field == nil or not field.leaf then
      unknown_parameter(name, route.call .. " " .. route.params)
    end
    local top = match(path, "^[^.]+")
    if route.bound[path] or route.bound[top] then
      unknown_parameter(name, top .. " comes from the path of " .. route.call)
    elseif top == route.body then
      unknown_parameter(name, top .. " comes from the JSON body of " .. route.call)
    end
    if seen[path] and field.label ~= "repeated" then
      refuse("INVALID_ARGUMENT", path .. ": must be given once", {field = path},
        {path, "must be given once"})
    end
    seen[path] = true
    local kind, ok = field.elem.kind, true
    if kind == "bool" then
      ok = value == "true" or value == "false"
    elseif kind == "enum" then
      ok = ENUMS[field.elem.type] == nil or ENUMS[field.elem.type].set[value]
    elseif RANGES[kind] then
      local digits = kind:sub(1, 1) == "u" and "^%d+$" or "^-?%d+$"
      local number = match(value, digits) and tonumber(value)
      ok = number and number >= RANGES[kind][1] and number <= RANGES[kind][2]
    elseif kind == "double" or kind == "float" then
      ok = tonumber(value) ~= nil or value == "NaN" or value == "Infinity" or value == "-Infinity"
    end
    if not ok then
      local description = expected(field.elem):gsub("JSON ", "") .. ", not " .. printable(value)
      refuse("INVALID_ARGUMENT", path .. ": " .. description, {field = path}, {path, description})
    end
  end
end

local function quote(text)
  return '"' .. text:gsub('[%z\1-\31"\\]', function(c)
    if c == '"' or c == "\\" then return "\\" .. c end
    return format("\\u%04x", byte(c))
  end) .. '"'
end

local function status_json(e)
  local metadata = {}
  for key, value in pairs(e.metadata) do
    metadata[#metadata + 1] = quote(key) .. ":" .. quote(value)
  end
  table.sort(metadata)
  local details = '{"@type":"type.googleapis.com/google.rpc.ErrorInfo","reason":' .. quote(e.reason)
    .. ',"domain":' .. quote(LIMITS.domain) .. ',"metadata":{' .. concat(metadata, ",") .. "}}"
  if e.violation then
    details = details .. ',{"@type":"type.googleapis.com/google.rpc.BadRequest","field_violations":'
      .. '[{"field":' .. quote(e.violation[1]) .. ',"description":' .. quote(e.violation[2])
      .. ',"reason":""}]}'
  end
  return '{"code":' .. (e.code or 3) .. ',"message":' .. quote(e.message) .. ',"details":[' .. details .. "]}"
end

local function answer(handle, ok, err)
  if ok then return false end
  if type(err) ~= "table" then  -- a bug here must not block the API: the transcoder still checks
    handle:logErr("request validator failed, request passed on unchecked: " .. tostring(err))
    return false
  end
  handle:respond({[":status"] = err.status or "400", ["content-type"] = "application/json"}, status_json(err))
  return true
end

-- Native gRPC as Envoy tells it (the transcoder passes it through untouched): exactly
-- application/grpc, or application/grpc+<codec>. application/grpc-web and the like are transcoded
-- as JSON, so they are checked like any REST call.
local function is_grpc(content_type)
  return content_type == "application/grpc" or find(content_type, "application/grpc+", 1, true) == 1
end

-- The two GET streams a browser's EventSource opens: it can send no header, so the bearer token
-- may come as the `access_token` query parameter there (RFC 6750 section 2.3), and nowhere else.
-- It is moved into the Authorization header (a header sent too wins) and out of the path, so
-- neither the transcoder nor the service ever sees it in a URL (nothing logs it).
local TOKEN_IN_QUERY = {
  ["agentsessions.v1.ResumeTurnRequest"] = true, ["agentsessions.v1.WatchSessionRequest"] = true,
}

local function take_access_token(headers, path, query)
  local kept, token = {}, nil
  for pair in gmatch(query, "[^&]+") do
    local name, value = match(pair, "^([^=]*)=?(.*)$")
    if unescape(name) == "access_token" then token = unescape(value) else kept[#kept + 1] = pair end
  end
  if token == nil then return query end
  query = concat(kept, "&")
  headers:replace(":path", query ~= "" and (path .. "?" .. query) or path)
  if token ~= "" and (headers:get("authorization") or "") == "" then
    headers:replace("authorization", "Bearer " .. token)
  end
  return query
end

function envoy_on_request(handle)
  local headers = handle:headers()
  if is_grpc(headers:get("content-type") or "") then return end
  local method, target = headers:get(":method") or "", headers:get(":path") or "/"
  local path, query = match(target, "^([^?]*)%??(.*)$")
  local route = find_route(method, path)
  if route == nil then
    answer(handle, pcall(unknown_path, method, path))
    return
  end
  if query ~= "" and method == "GET" and TOKEN_IN_QUERY[route.request] then
    query = take_access_token(headers, path, query)
  end
  if query ~= "" and answer(handle, pcall(check_query, route, query)) then return end
  local body = handle:body()
  if body == nil or body:length() == 0 then return end
  answer(handle, pcall(check_body, route, body:getBytes(0, body:length())))
end
