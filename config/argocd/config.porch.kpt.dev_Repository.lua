-- Argo CD health of a Lanai Repository (config.porch.kpt.dev/v1alpha1).
-- Lanai reports on a Repository through status.observedGeneration and the Ready
-- condition: Ready=True once the Git remote answered and was mirrored, Ready=False with
-- the cause (bad credentials, missing branch, unreachable server) otherwise.
-- Argo CD sets the global `obj` to the object and reads the returned table.
local hs = {}

local function ready_condition(status)
  if status.conditions == nil then
    return nil
  end
  for _, condition in ipairs(status.conditions) do
    if condition.type == "Ready" then
      return condition
    end
  end
  return nil
end

if obj.status == nil then
  hs.status = "Progressing"
  hs.message = "Waiting for Lanai to check the repository"
  return hs
end

local generation = obj.metadata.generation
local observed = obj.status.observedGeneration
if generation ~= nil and observed ~= nil and observed < generation then
  hs.status = "Progressing"
  hs.message = "Waiting for Lanai to check generation " .. tostring(generation)
    .. " (last checked: " .. tostring(observed) .. ")"
  return hs
end

local ready = ready_condition(obj.status)
if ready == nil then
  hs.status = "Progressing"
  hs.message = "Waiting for the Ready condition"
  return hs
end
if generation ~= nil and ready.observedGeneration ~= nil and ready.observedGeneration < generation then
  hs.status = "Progressing"
  hs.message = "Waiting for Lanai to check generation " .. tostring(generation)
  return hs
end

local message = ready.message
if message == nil or message == "" then
  message = ready.reason or ""
end
if ready.status == "True" then
  hs.status = "Healthy"
  hs.message = message
elseif ready.status == "False" then
  hs.status = "Degraded"
  hs.message = message
else
  hs.status = "Progressing"
  if message == "" then
    message = "Ready is " .. tostring(ready.status)
  end
  hs.message = message
end
return hs
