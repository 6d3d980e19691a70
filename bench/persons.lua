-- bench/persons.lua: wrk script that requests, at random, one of the paths
-- listed in the file named by WRK_PATHS (one path per line, e.g.
-- /api/v1/persons/<id> or /api/v1/persons?limit=50). Headers (the bearer
-- token) come from wrk's -H.
--   WRK_PATHS=paths.txt wrk -t2 -c4 -d10s --latency -s bench/persons.lua \
--       -H "Authorization: Bearer $token" http://127.0.0.1:PORT
local paths = {}

function init(args)
	local file = os.getenv("WRK_PATHS")
	if file == nil then
		error("set WRK_PATHS to a file of paths")
	end
	for line in io.lines(file) do
		if line ~= "" then
			paths[#paths + 1] = line
		end
	end
	if #paths == 0 then
		error("no paths in " .. file)
	end
	math.randomseed(os.time() + tonumber(tostring({}):match("0x(%x+)") or "0", 16))
end

function request()
	return wrk.format("GET", paths[math.random(#paths)])
end
