-- Argo CD health of a Lanai PackageRevision (porch.kpt.dev/v1alpha2).
-- Lanai reports on a PackageRevision through status.observedGeneration and the Ready
-- condition: Ready=True once the revision matches Git (created, rendered, proposed or
-- published), Ready=False with the cause (render failure, rejected push) otherwise.
-- Revisions mirrored from Git may carry no observedGeneration: then Ready alone decides.
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
  hs.message = "Waiting for Lanai to act on the revision"
  return hs
end

local generation = obj.metadata.generation
local observed = obj.status.observedGeneration
if generation ~= nil and observed ~= nil and observed < generation then
  hs.status = "Progressing"
  hs.message = "Waiting for Lanai to act on generation " .. tostring(generation)
    .. " (last acted on: " .. tostring(observed) .. ")"
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
  hs.message = "Waiting for Lanai to act on generation " .. tostring(generation)
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
