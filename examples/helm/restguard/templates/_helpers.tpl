{{/* Names and labels. */}}
{{- define "restguard.name" -}}
{{- .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "restguard.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "restguard.selectorLabels" -}}
app.kubernetes.io/name: {{ include "restguard.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "restguard.labels" -}}
{{ include "restguard.selectorLabels" . }}
app.kubernetes.io/version: {{ .Values.image.tag | default .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
{{- end -}}

{{- define "restguard.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "restguard.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{- define "restguard.image" -}}
{{- if .Values.image.digest -}}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest -}}
{{- else -}}
{{- printf "%s:%s" .Values.image.repository (.Values.image.tag | default .Chart.AppVersion) -}}
{{- end -}}
{{- end -}}

{{/*
The mounted Secrets: a list of {name, secret, mountPath, items?} for every entry that names an
existing Secret. Volume names are "secret-<name>".
*/}}
{{- define "restguard.secretMounts" -}}
{{- $mounts := list -}}
{{- range $name := list "clients" "directory" "assertionKey" "admin" -}}
{{- $s := get $.Values.secrets $name -}}
{{- if $s.existingSecret -}}
{{- $mounts = append $mounts (dict "name" ($name | lower) "secret" $s.existingSecret "mountPath" $s.mountPath) -}}
{{- end -}}
{{- end -}}
{{- range $.Values.secrets.extra -}}
{{- if not (and .name .existingSecret .mountPath) -}}
{{- fail "secrets.extra: every entry needs name, existingSecret and mountPath" -}}
{{- end -}}
{{- $mounts = append $mounts (dict "name" .name "secret" .existingSecret "mountPath" .mountPath) -}}
{{- end -}}
{{- if $.Values.redis.enabled -}}
{{- with $.Values.redis.auth -}}
{{- if .existingSecret -}}
{{- $mounts = append $mounts (dict "name" "redis-auth" "secret" .existingSecret "mountPath" "/etc/restguard-secrets/redis-auth") -}}
{{- end -}}
{{- end -}}
{{- with $.Values.redis.tls -}}
{{- if and .enabled .existingSecret -}}
{{- $mounts = append $mounts (dict "name" "redis-tls" "secret" .existingSecret "mountPath" "/etc/restguard-secrets/redis-tls") -}}
{{- end -}}
{{- end -}}
{{- if not $.Values.redis.fleetSecret.existingSecret -}}
{{- fail "redis.fleetSecret.existingSecret: Redis on needs the fleet secret every replica shares (docs/scaling.md)" -}}
{{- end -}}
{{- $mounts = append $mounts (dict "name" "redis-fleet" "secret" $.Values.redis.fleetSecret.existingSecret "mountPath" "/etc/restguard-secrets/redis-fleet") -}}
{{- end -}}
{{- range $mounts -}}
{{- if or (hasPrefix "/etc/restguard/" .mountPath) (eq .mountPath "/etc/restguard") -}}
{{- fail (printf "secrets: %s is inside the configuration's ConfigMap mount /etc/restguard, which is read-only: the kubelet cannot create a mount point there" .mountPath) -}}
{{- end -}}
{{- end -}}
{{- toJson (dict "mounts" $mounts) -}}
{{- end -}}

{{/*
The configuration: the user's text, with `listen` from .Values.ports, with Redis on the `redis`
section (docs/configuration.md#redis: address, ACL user and password, TLS, fleet secret, all
from mounted Secrets), and with secrets.admin the `admin` section.
*/}}
{{- define "restguard.config" -}}
{{- $cfg := fromYaml .Values.config -}}
{{- if hasKey $cfg "Error" -}}
{{- fail (printf "config is not valid YAML: %s" (get $cfg "Error")) -}}
{{- end -}}
{{- $listen := dict "grpc" (printf ":%d" (int .Values.ports.grpc)) "admin" (printf ":%d" (int .Values.ports.admin)) -}}
{{- if include "restguard.forwardAuth" . -}}
{{- $_ := set $listen "http" (printf ":%d" (int .Values.ports.http)) -}}
{{- end -}}
{{- $_ := set $cfg "listen" $listen -}}
{{- if .Values.redis.enabled -}}
{{- $r := dict "address" .Values.redis.address -}}
{{- with .Values.redis.auth -}}
{{- if .existingSecret -}}
{{- $_ := set $r "username_file" (printf "/etc/restguard-secrets/redis-auth/%s" .usernameKey) -}}
{{- $_ := set $r "password_file" (printf "/etc/restguard-secrets/redis-auth/%s" .passwordKey) -}}
{{- end -}}
{{- end -}}
{{- with .Values.redis.tls -}}
{{- if .enabled -}}
{{- $t := dict "enabled" true -}}
{{- if .existingSecret -}}
{{- $_ := set $t "ca_file" (printf "/etc/restguard-secrets/redis-tls/%s" .caKey) -}}
{{- if and .certKey .keyKey -}}
{{- $_ := set $t "cert_file" (printf "/etc/restguard-secrets/redis-tls/%s" .certKey) -}}
{{- $_ := set $t "key_file" (printf "/etc/restguard-secrets/redis-tls/%s" .keyKey) -}}
{{- end -}}
{{- end -}}
{{- if .serverName -}}
{{- $_ := set $t "server_name" .serverName -}}
{{- end -}}
{{- $_ := set $r "tls" $t -}}
{{- end -}}
{{- end -}}
{{- $_ := set $r "fleet_secret_file" (printf "/etc/restguard-secrets/redis-fleet/%s" .Values.redis.fleetSecret.key) -}}
{{- $_ := set $cfg "redis" $r -}}
{{- end -}}
{{- if .Values.secrets.admin.existingSecret -}}
{{- $_ := set $cfg "admin" (dict "secret_file" (printf "%s/secret" .Values.secrets.admin.mountPath)) -}}
{{- end -}}
{{- toYaml $cfg -}}
{{- end -}}

{{/*
"true" when the configuration names the proxy of a forward-auth listener (forward_auth.style):
only then does the chart open ports.http. restguard refuses a forward-auth listener whose
proxy is not named (it never guesses how to read the original request).
*/}}
{{- define "restguard.forwardAuth" -}}
{{- $cfg := fromYaml .Values.config -}}
{{- $fa := get $cfg "forward_auth" -}}
{{- if and (kindIs "map" $fa) (get $fa "style") -}}true{{- end -}}
{{- end -}}
