# Tables of measure.sh's results.txt: one line per variant,
#   target model opt variant .text .rodata .data .bss stack insns status
function cpu(t) { return t ~ /^thumbv7em/ ? "M4F" : "M0" }
function net(k, f,   m, b) {
    m = k SUBSEP "model"; b = k SUBSEP "baseline"
    if (!(m in st) || !(b in st) || st[m] != "ok" || st[b] != "ok") return ""
    if (f == "flash") return (tx[m] + ro[m] + da[m]) - (tx[b] + ro[b] + da[b])
    if (f == "text") return tx[m] - tx[b]
    if (f == "rodata") return (ro[m] + da[m]) - (ro[b] + da[b])
    if (f == "ram") return (da[m] + bs[m]) - (da[b] + bs[b])
    if (f == "stack") return sk[m] - sk[b]
    if (f == "insns") return in_[m] - in_[b]
}
# flash as "total (code + constants)": .text, then .rodata + .data
function split_flash(k,   v) {
    v = net(k, "flash")
    if (v == "") return cell(k, "flash")
    return v " (" net(k, "text") " + " net(k, "rodata") ")"
}
function cell(k, f,   v) {
    v = net(k, f)
    if (v != "") return v
    return (k SUBSEP "model") in st ? "no fit" : "—"
}
{
    k = $1 SUBSEP $2 SUBSEP $3 SUBSEP $4
    tx[k] = $5; ro[k] = $6; da[k] = $7; bs[k] = $8; sk[k] = $9; in_[k] = $10; st[k] = $11
    key = $1 SUBSEP $2 SUBSEP $3
    if (!(key in seen)) { seen[key] = 1; order[++n] = key }
    if (!($1 in tseen)) { tseen[$1] = 1; targets[++nt] = $1 }
}
END {
    print "### staticnet f32 and int8 vs MicroFlow 0.1.3 (int8), net of the baseline"
    print ""
    print "Flash as total (code + constants: .text, then .rodata + .data)."
    print ""
    print "| model | target | opt | flash f32 | flash int8 | flash MicroFlow | static RAM f32 / int8 / MicroFlow | stack f32 | stack int8 | stack MicroFlow | insns f32 | insns int8 | insns MicroFlow |"
    print "|---|---|---|---|---|---|---|---|---|---|---|---|---|"
    split("sine speech", pair, " ")
    for (p = 1; p <= 2; p++) for (t = 1; t <= nt; t++) for (o = 1; o <= 2; o++) {
        opt = o == 1 ? "s" : "3"
        s = targets[t] SUBSEP pair[p] SUBSEP opt; m = targets[t] SUBSEP "mf-" pair[p] SUBSEP opt
        q = targets[t] SUBSEP pair[p] "-int8" SUBSEP opt
        if (!(s in seen) && !(m in seen)) continue
        printf "| %s | %s | %s | %s | %s | %s | %s / %s / %s | %s | %s | %s | %s | %s | %s |\n", pair[p], cpu(targets[t]), opt,
            split_flash(s), split_flash(q), split_flash(m), cell(s, "ram"), cell(q, "ram"), cell(m, "ram"),
            cell(s, "stack"), cell(q, "stack"), cell(m, "stack"), cell(s, "insns"), cell(q, "insns"), cell(m, "insns")
    }
    print ""
    print "### Every model, net of the baseline (bytes; instructions per call)"
    print ""
    print "| model | target | opt | flash | static RAM | stack | insns |"
    print "|---|---|---|---|---|---|---|"
    for (i = 1; i <= n; i++) {
        split(order[i], f, SUBSEP)
        printf "| %s | %s | %s | %s | %s | %s | %s |\n", f[2], cpu(f[1]), f[3],
            cell(order[i], "flash"), cell(order[i], "ram"), cell(order[i], "stack"), cell(order[i], "insns")
    }
    print ""
    print "### Every variant"
    print ""
    print "| target | model | opt | variant | .text | .rodata | .data | .bss | stack | insns | status |"
    print "|---|---|---|---|---|---|---|---|---|---|---|"
    for (i = 1; i <= n; i++) for (v = 1; v <= 2; v++) {
        k = order[i] SUBSEP (v == 1 ? "model" : "baseline")
        if (!(k in st)) continue
        split(k, f, SUBSEP)
        printf "| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n", cpu(f[1]), f[2], f[3], f[4],
            tx[k], ro[k], da[k], bs[k], sk[k], in_[k], st[k]
    }
}
