const fs=require("fs");const d="prof"; const pat=process.argv[2];
const p=JSON.parse(fs.readFileSync(d+"/"+fs.readdirSync(d)[0]));
const idx=new Map(p.nodes.map((n)=>[n.id,n])); const parent=new Map(); for(const n of p.nodes) for(const c of n.children||[]) parent.set(c,n.id);
const hits={}; for(let i=0;i<p.samples.length;i++){ let n=idx.get(p.samples[i]); const st=[]; while(n){st.push(n.callFrame.url.replace(/.*\//,"")+":"+n.callFrame.lineNumber+" "+n.callFrame.functionName); n=idx.get(parent.get(n.id));} const j=st.findIndex(s=>s.startsWith(pat)); if(j<0) continue; const k=st.slice(j, j+1).concat(st.slice(j+1).filter(s=>s.startsWith("kubectl-flannel")).slice(0,6)).join(" <- "); hits[k]=(hits[k]||0)+p.timeDeltas[i]; }
console.log(Object.entries(hits).sort((a,b)=>b[1]-a[1]).slice(0,6).map(([k,v])=>(v/1000).toFixed(1)+"ms "+k).join("\n"))
