# Builds every Tapgate image from docker/Dockerfile in one go (the build stage runs once):
#   docker buildx bake -f docker/docker-bake.hcl                      # all images, local
#   REGISTRY=registry.corp.example.com/tapgate TAG=0.1.0 docker buildx bake -f docker/docker-bake.hcl --push
# Multi-arch (needs a docker-container builder): add --set "*.platform=linux/amd64,linux/arm64".
variable "REGISTRY" {
  default = "ghcr.io/tapgate"
}
variable "TAG" {
  default = "0.1.0"
}

group "default" {
  targets = ["ws-gateway", "presence", "user-status", "policy", "endpoint-node"]
}

target "_common" {
  context    = "."
  dockerfile = "docker/Dockerfile"
  labels = {
    "org.opencontainers.image.licenses" = "Apache-2.0"
    "org.opencontainers.image.version"  = "${TAG}"
  }
}

target "ws-gateway" {
  inherits = ["_common"]
  target   = "ws-gateway"
  tags     = ["${REGISTRY}/ws-gateway:${TAG}"]
}

target "presence" {
  inherits = ["_common"]
  target   = "presence"
  tags     = ["${REGISTRY}/presence:${TAG}"]
}

target "user-status" {
  inherits = ["_common"]
  target   = "user-status"
  tags     = ["${REGISTRY}/user-status:${TAG}"]
}

target "policy" {
  inherits = ["_common"]
  target   = "policy"
  tags     = ["${REGISTRY}/policy:${TAG}"]
}

target "endpoint-node" {
  inherits = ["_common"]
  target   = "endpoint-node"
  tags     = ["${REGISTRY}/endpoint-node:${TAG}"]
}
